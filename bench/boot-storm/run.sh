#!/usr/bin/env bash
# Boot storm: N simulated iPXE nodes of the example fleet, all starting within one second, each fetching boot.ipxe
# over TFTP, its per-MAC script, the kernel and every initrd the script names over HTTP, and POSTing its report.
# Two servers in the same run, the same files: overlay serve --fleet --state, and nginx + tftpd-hpa serving the
# overlay boot-config export of the same fleet. Prints nodes per second, p50/p99 time to last byte, failures and
# the server's peak RSS, with ratios overlay vs nginx + in.tftpd. Never fails on a number.
#
# Settings: NODES ("100 500 1000"), PROCS (1 client process; more split the nodes between them), OVERLAY (the binary),
# SERVE_DIR (the example's served directory, pxe-examples/build/serve; `make example` makes it when missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../serve-load/common.sh"
ex=$top/pxe-examples
overlay=${OVERLAY:-$top/.build/release/overlay}
nodes_list=${NODES:-100 500 1000}
procs=${PROCS:-1}
[ -x "$overlay" ] || { echo "boot-storm: $overlay is missing: run make build first" >&2; exit 1; }
command -v nginx >/dev/null || {
    echo "boot-storm: installing nginx-light" >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends nginx-light >/dev/null
}
serve_dir=${SERVE_DIR:-$ex/build/serve}
[ -f "$serve_dir/base.cpio.zst" ] || make -C "$ex" example OVERLAY="$overlay" >/dev/null
ulimit -n "$(ulimit -Hn)"

scratch=$(mktemp -d /var/tmp/boot-storm.XXXXXX)
chmod 755 "$scratch"   # nginx's workers and in.tftpd run as nobody
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
cleanup() { stop; rm -rf "$scratch"; }
trap cleanup EXIT
# tftpd-hpa unpacked, not installed (it conflicts with atftpd, and its package would start a daemon on port 69).
hpa=$(unpack_deb tftpd-hpa "$scratch/debs")

# overlay serves the example's directory and generates the boot files; the peers serve the boot-config export of
# the same fleet written beside the same files.
cp -r "$serve_dir" "$scratch/serve"
cp -r "$serve_dir" "$scratch/static"
cp "$ex/fleet.toml" "$scratch/fleet.toml"
"$overlay" boot-config --quiet --dir "$scratch/static" --fleet "$scratch/fleet.toml" --out "$scratch/static" >/dev/null
chmod -R a+rX "$scratch/static"
bytes=$(python3 -c 'import os,sys; r=sys.argv[1]; s=sys.argv[2].split(); print(sum(os.path.getsize(os.path.join(r,f)) for f in s))' \
    "$scratch/static" "vmlinuz base.cpio.zst vdsm-1.0.cpio.zst cim-1.0.cpio.zst rpmdb/compute-rpmdb.cpio.zst")

# hwm PID...: the sum of VmHWM (kB) over the processes given and their children alive now.
hwm() {
    local all=("$@") p
    for p in "$@"; do all+=($(cat /proc/"$p"/task/*/children 2>/dev/null)); done
    for p in "${all[@]}"; do awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null; done | awk '{ s += $1 } END { print s + 0 }'
}

# sample_anon FILE PID...: until killed, every 0.1 s, the sum of RssAnon (kB) over the processes and their children,
# the largest kept in FILE: the memory a server holds that the page cache does not (VmHWM also counts the pages of
# the binary, its libraries and the files it maps, which are the page cache's).
sample_anon() {
    local file=$1 peak=0 now p all
    shift
    set +e +o pipefail  # a process may end between two looks
    echo 0 >"$file"
    while :; do
        all=("$@")
        for p in "$@"; do all+=($(cat /proc/"$p"/task/*/children 2>/dev/null)); done
        now=$(for p in "${all[@]}"; do awk '/^RssAnon:/ { print $2 }' "/proc/$p/status" 2>/dev/null; done | awk '{ s += $1 } END { print s + 0 }')
        [ -n "$now" ] || continue
        if [ "$now" -gt "$peak" ]; then
            peak=$now
            echo "$peak" >"$file"
        fi
        sleep 0.1
    done
}

start_overlay() {  # N
    http=$(free_port)
    tftp=$(free_port udp)
    mkdir -p "$scratch/state-$1"
    "$overlay" serve --quiet --dir "$scratch/serve" --fleet "$scratch/fleet.toml" --state "$scratch/state-$1" \
        --http "127.0.0.1:$http" --tftp "127.0.0.1:$tftp" >/dev/null 2>"$scratch/overlay-$1.log" &
    pids+=($!)
    server_pids=($!)
    wait_tcp "$http"
    wait_udp "$tftp"
}

start_peers() {  # N
    http=$(free_port)
    tftp=$(free_port udp)
    local conf=$scratch/nginx-$1
    mkdir -p "$conf"
    chown nobody:nogroup "$conf"
    cat >"$conf/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 20000;
pid $conf/nginx.pid;
error_log $conf/error.log;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path $conf/body;
    proxy_temp_path $conf/proxy;
    fastcgi_temp_path $conf/fastcgi;
    uwsgi_temp_path $conf/uwsgi;
    scgi_temp_path $conf/scgi;
    server {
        listen 127.0.0.1:$http backlog=1024;
        root $scratch/static;
        # No report is recorded: the POST only costs nginx a request.
        location = /report { return 204; }
    }
}
CONF
    setpriv --reuid=nobody --regid=nogroup --clear-groups nginx -e "$conf/error.log" -c "$conf/nginx.conf" -p "$conf" &
    pids+=($!)
    server_pids=($!)
    "$hpa/usr/sbin/in.tftpd" --foreground --listen --address "127.0.0.1:$tftp" --secure "$scratch/static" &
    pids+=($!)
    server_pids+=($!)
    wait_tcp "$http"
    wait_udp "$tftp"
}

# The storm against each server in turn, for each N; who goes first alternates.
declare -A result rss anon
round=0
for n in $nodes_list; do
    round=$((round + 1))
    order="overlay peers"
    [ $((round % 2)) -eq 0 ] && order="peers overlay"
    for who in $order; do
        "start_$who" "$n"
        sample_anon "$scratch/anon-$who-$n" "${server_pids[@]}" &
        sampler=$!
        python3 "$here/storm.py" --http "127.0.0.1:$http" --tftp "127.0.0.1:$tftp" --root "$scratch/static" \
            --nodes "$n" --procs "$procs" >"$scratch/$who-$n.json" || { echo "boot-storm: the client failed against $who" >&2; exit 1; }
        rss[$who-$n]=$(hwm "${server_pids[@]}")
        kill "$sampler" 2>/dev/null || true
        wait "$sampler" 2>/dev/null || true
        anon[$who-$n]=$(cat "$scratch/anon-$who-$n")
        if [ "$who" = overlay ]; then
            result[reports-$n]=$(cat "$scratch/state-$n/reports.jsonl" 2>/dev/null | wc -l)
        fi
        stop
    done
done

field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=d[sys.argv[2]]; print(v if isinstance(v, int) else f"{v:.3f}")' "$@"; }
reasons() { python3 -c 'import json,sys; [print(f"  {sys.argv[2]}, N={sys.argv[3]}: {c} x {r}") for r, c in sorted(json.load(open(sys.argv[1]))["reasons"].items(), key=lambda x: -x[1])[:5]]' "$@"; }

printf '\nBoot storm: N iPXE nodes starting within 1 s, each TFTP boot.ipxe + HTTP ipxe/<mac>, kernel, 4 initrds (%s MB) + POST /report\n' "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')"
printf 'Clients: %s Python asyncio process(es), one loopback source address per node, a connection per request,\n' "$procs"
printf 'sharing the machine'"'"'s %s cores with the server. nginx does not record the report (location = /report { return 204; }).\n\n' "$(nproc)"
printf '| %-5s | %-18s | %8s | %7s | %7s | %8s | %7s | %7s | %12s |\n' "N" "server" "nodes/s" "p50 s" "p99 s" "failures" "RSS MB" "anon MB" "TFTP resends"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "-------" "--------------------" "----------" "---------" "---------" "----------" "---------" "---------" "--------------"
for n in $nodes_list; do
    for who in overlay peers; do
        label=$([ "$who" = overlay ] && echo "overlay serve" || echo "nginx + in.tftpd")
        f=$scratch/$who-$n.json
        printf '| %-5s | %-18s | %8.1f | %7.3f | %7.3f | %8s | %7d | %7d | %12s |\n' "$n" "$label" "$(field "$f" per_second)" \
            "$(field "$f" p50)" "$(field "$f" p99)" "$(field "$f" failures)" "$((rss[$who-$n] / 1024))" "$((anon[$who-$n] / 1024))" \
            "$(field "$f" tftp_resends)"
    done
done
printf '\noverlay vs nginx + in.tftpd (goals: throughput >= 1.0x, 0 failures at 1000 nodes, RSS <= 64 MB + the page cache, i.e. anon <= 64 MB):\n'
for n in $nodes_list; do
    o=$scratch/overlay-$n.json
    p=$scratch/peers-$n.json
    printf '  N=%s: throughput %sx, p99 %sx (lower is better), RSS %sx; overlay %s failures, %s MB RSS of which %s MB anonymous; recorded %s reports\n' "$n" \
        "$(ratio "$(field "$o" per_second)" "$(field "$p" per_second)")" "$(ratio "$(field "$o" p99)" "$(field "$p" p99)")" \
        "$(ratio "${rss[overlay-$n]}" "${rss[peers-$n]}")" "$(field "$o" failures)" "$((rss[overlay-$n] / 1024))" "$((anon[overlay-$n] / 1024))" "${result[reports-$n]}"
done
for n in $nodes_list; do
    reasons "$scratch/overlay-$n.json" overlay "$n"
    reasons "$scratch/peers-$n.json" "nginx + in.tftpd" "$n"
done
printf 'RSS: the sum of VmHWM over the server'"'"'s processes at the end of the storm (nginx: master + workers; in.tftpd:\n'
printf 'the listener, whose per-transfer children have exited by then). anon: the peak of RssAnon, sampled every 0.1 s\n'
printf 'during the storm (the memory that is not the page cache'"'"'s: not the binary, its libraries or the files served).\n'
exit 0
