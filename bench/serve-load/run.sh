#!/usr/bin/env bash
# Load: 500 concurrent TFTP and 1,000 concurrent HTTP downloads from one server process at the same time.
# Reports failures (goal: 0), the most transfers seen in flight, and the server's peak RSS (goal <= 64 MB).
# Never fails on a number.
set -euo pipefail
. "$(dirname "$0")/common.sh"
resolve_server

TFTP_CLIENTS=${TFTP_CLIENTS:-500}
HTTP_CLIENTS=${HTTP_CLIENTS:-1000}
HTTP_MIB=${HTTP_MIB:-4}
TFTP_KIB=${TFTP_KIB:-4096}
RATE=${RATE:-1M}   # per HTTP client, so that all of them are in flight together
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
work=$(mktemp -d /tmp/bench-load.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/root"
head -c $((HTTP_MIB * 1024 * 1024)) /dev/urandom > "$work/root/overlay.cpio.zst"
head -c $((TFTP_KIB * 1024)) /dev/urandom > "$work/root/undionly.kpxe"
http_size=$(stat -c %s "$work/root/overlay.cpio.zst")
tftp_size=$(stat -c %s "$work/root/undionly.kpxe")

http_port=$(free_port)
tftp_port=$(free_port udp)
"$OVERLAY_BIN" serve --dir "$work/root" --http "127.0.0.1:$http_port" --tftp "127.0.0.1:$tftp_port" >/dev/null 2>"$work/access.log" &
server=$!
pids+=("$server")
wait_tcp "$http_port"
wait_udp "$tftp_port"

# HTTP: curl drives at most 300 parallel transfers per process, so groups of 250 share one curl each
# (--parallel-immediate opens every connection up front). TFTP: one atftp process per transfer.
per_curl=250
groups=$(( (HTTP_CLIENTS + per_curl - 1) / per_curl ))
for g in $(seq "$groups"); do
    n=$(( g * per_curl <= HTTP_CLIENTS ? per_curl : HTTP_CLIENTS - (g - 1) * per_curl ))
    for i in $(seq "$n"); do
        printf 'url = "http://127.0.0.1:%s/overlay.cpio.zst"\noutput = "/dev/null"\n' "$http_port"
    done > "$work/http-$g.curl"
done

peak_threads=0
sample() {
    while kill -0 "$server" 2>/dev/null; do
        t=$(awk '/^Threads:/ { print $2 }' "/proc/$server/status" 2>/dev/null || echo 0)
        [ "${t:-0}" -gt "$peak_threads" ] && peak_threads=$t && echo "$t" > "$work/peak-threads"
        sleep 0.1
    done
}
sample &
sampler=$!

start=$(date +%s.%N)
clients=()
for g in $(seq "$groups"); do
    curl -s -S -Z --parallel-immediate --parallel-max "$per_curl" --limit-rate "$RATE" -K "$work/http-$g.curl" \
        -w '%{http_code} %{size_download}\n' > "$work/http-$g.out" 2>"$work/http-$g.err" &
    clients+=($!)
done
mkdir -p "$work/tftp"
for i in $(seq "$TFTP_CLIENTS"); do
    ( atftp --option "blksize 1428" -g -r undionly.kpxe -l /dev/null 127.0.0.1 "$tftp_port" >/dev/null 2>"$work/tftp/$i.err" \
        && echo ok > "$work/tftp/$i.status" || echo "failed $?" > "$work/tftp/$i.status" ) &
    clients+=($!)
done
for c in "${clients[@]}"; do wait "$c" || true; done
end=$(date +%s.%N)
peak_rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$server/status")
kill "$sampler" 2>/dev/null || true

http_ok=$(cat "$work"/http-*.out | grep -c "^200 $http_size\$" || true)
tftp_ok=$(cat "$work"/tftp/*.status | grep -c '^ok$' || true)
logged_http=$(grep -c " http .* 200 $http_size " "$work/access.log" || true)
logged_tftp=$(grep -c " tftp .* ok $tftp_size " "$work/access.log" || true)
echo "serve-load: $HTTP_CLIENTS HTTP x ${HTTP_MIB} MiB (limited to $RATE/s each) + $TFTP_CLIENTS TFTP x ${TFTP_KIB} KiB, $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')s"
echo "  HTTP: $http_ok/$HTTP_CLIENTS complete ($((HTTP_CLIENTS - http_ok)) failures; server logged $logged_http)"
echo "  TFTP: $tftp_ok/$TFTP_CLIENTS complete ($((TFTP_CLIENTS - tftp_ok)) failures; server logged $logged_tftp)"
echo "  most server threads at once: $(cat "$work/peak-threads" 2>/dev/null || echo '?') (one per transfer or connection)"
echo "  peak server RSS: $((peak_rss / 1024)) MB (goal <= 64 MB)"
cat "$work"/http-*.err | grep -a 'curl:' | sort | uniq -c | head -5 | sed 's/^/  curl: /' || true
cat "$work"/tftp/*.err | sort | uniq -c | head -5 | sed 's/^/  atftp: /' || true
grep -v -e ' 200 ' -e ' ok ' "$work/access.log" | head -5 | sed 's/^/  server: /' || true
exit 0
