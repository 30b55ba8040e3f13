#!/usr/bin/env bash
# TFTP throughput: one 64 MiB file at blksize 1428 with the atftp client, against our server, tftp-hpa's in.tftpd
# and atftpd, all on loopback in the same run:
#   lockstep vs in.tftpd and vs atftpd (goal >= 1.0x each), windowsize 16 vs atftpd (goal >= 1.0x),
#   and our windowsize 16 vs our lockstep (goal >= 10x). Prints ratios; never fails on a number.
set -euo pipefail
. "$(dirname "$0")/../serve-load/common.sh"
resolve_server
ldconfig -p | grep -q 'libwrap.so.0 ' || { echo "installing libwrap0 for the peer servers" >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -q libwrap0 >/dev/null; }
command -v atftp >/dev/null || { echo "installing the atftp client" >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -q atftp >/dev/null; }

SIZE_MIB=${SIZE_MIB:-64}
BLKSIZE=${BLKSIZE:-1428}
WINDOW=${WINDOW:-16}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d /tmp/bench-tftp.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
chmod 755 "$work"
mkdir -p "$work/root"
chmod 755 "$work/root"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$work/root/big.img"
chmod 644 "$work/root/big.img"
want=$(sha256sum < "$work/root/big.img" | cut -c1-64)

# The peers conflict as Debian packages: unpack both instead of installing either.
hpa=$(unpack_deb tftpd-hpa "$work/debs")
atftpd=$(unpack_deb atftpd "$work/debs")

ours=$(free_port udp)
hpa_port=$(free_port udp)
atftpd_port=$(free_port udp)
"$OVERLAY_BIN" serve --dir "$work/root" --tftp "127.0.0.1:$ours" >/dev/null 2>"$work/ours.log" &
pids+=($!)
"$hpa/usr/sbin/in.tftpd" --foreground --listen --address "127.0.0.1:$hpa_port" --secure --user root "$work/root" &
pids+=($!)
"$atftpd/usr/sbin/atftpd" --daemon --no-fork --user root.root --bind-address 127.0.0.1 --port "$atftpd_port" \
    --logfile "$work/atftpd.log" --maxthread 100 "$work/root" &
pids+=($!)
wait_udp "$ours"
wait_udp "$hpa_port"
wait_udp "$atftpd_port"

# get PORT [extra atftp options...]: downloads once and checks the bytes.
get() {
    local port=$1
    shift
    rm -f "$work/out"
    atftp --option "blksize $BLKSIZE" "$@" -g -r big.img -l "$work/out" 127.0.0.1 "$port" >/dev/null 2>&1 || echo "warning: transfer from port $port failed" >&2
    [ "$(sha256sum < "$work/out" | cut -c1-64)" = "$want" ] || echo "warning: port $port sent different bytes" >&2
}

best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b < a ? b : a) }'; }
b_ours=999999 b_hpa=999999 b_atftpd=999999 b_ours_w=999999 b_atftpd_w=999999
for round in $(seq "$ROUNDS"); do
    t_ours=$(seconds get "$ours")
    t_hpa=$(seconds get "$hpa_port")
    t_atftpd=$(seconds get "$atftpd_port")
    t_ours_w=$(seconds get "$ours" --option "windowsize $WINDOW")
    t_atftpd_w=$(seconds get "$atftpd_port" --option "windowsize $WINDOW")
    echo "round $round: lockstep overlay ${t_ours}s in.tftpd ${t_hpa}s atftpd ${t_atftpd}s; windowsize $WINDOW overlay ${t_ours_w}s atftpd ${t_atftpd_w}s"
    b_ours=$(best "$b_ours" "$t_ours"); b_hpa=$(best "$b_hpa" "$t_hpa"); b_atftpd=$(best "$b_atftpd" "$t_atftpd")
    b_ours_w=$(best "$b_ours_w" "$t_ours_w"); b_atftpd_w=$(best "$b_atftpd_w" "$t_atftpd_w")
done
echo "tftp ${SIZE_MIB} MiB blksize $BLKSIZE (best of $ROUNDS):"
echo "  lockstep:      overlay ${b_ours}s vs in.tftpd ${b_hpa}s -> $(ratio "$b_hpa" "$b_ours")x (goal >= 1.0)"
echo "  lockstep:      overlay ${b_ours}s vs atftpd ${b_atftpd}s -> $(ratio "$b_atftpd" "$b_ours")x (goal >= 1.0)"
echo "  windowsize $WINDOW: overlay ${b_ours_w}s vs atftpd ${b_atftpd_w}s -> $(ratio "$b_atftpd_w" "$b_ours_w")x (goal >= 1.0)"
echo "  windowsize $WINDOW vs lockstep, overlay: $(ratio "$b_ours" "$b_ours_w")x (goal >= 10)"
