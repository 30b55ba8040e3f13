# Shared by bench/http, bench/tftp and bench/serve-load: finding the server command, ports, processes.
# shellcheck shell=bash

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# The server under test runs as: $OVERLAY_BIN serve --dir DIR [--http 127.0.0.1:PORT] [--tftp 127.0.0.1:PORT]
# Default: the project's release binary. When it has no `serve` command yet, the stand-in in
# bench/serve-load/driver (same flags, same Serve library) is built and used.
resolve_server() {
    OVERLAY_BIN="${OVERLAY_BIN:-$REPO/.build/release/overlay}"
    if [ -x "$OVERLAY_BIN" ] && "$OVERLAY_BIN" serve --help >/dev/null 2>&1; then
        return
    fi
    echo "note: $OVERLAY_BIN has no serve command; using the stand-in bench/serve-load/driver" >&2
    (cd "$REPO/bench/serve-load/driver" && swift build -c release >&2)
    OVERLAY_BIN="$REPO/bench/serve-load/driver/.build/release/serve-driver"
}

free_port() {
    python3 -c 'import socket,sys; t=socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM; s=socket.socket(socket.AF_INET,t); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "${1:-tcp}"
}

wait_tcp() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

wait_udp() {
    for _ in $(seq 100); do
        ss -Hlun "sport = :$1" | grep -q . && return 0
        sleep 0.05
    done
    echo "nothing listens on udp 127.0.0.1:$1" >&2
    return 1
}

# Seconds (3 decimals) that a command takes.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# Unpacks a Debian package without installing it (atftpd and tftpd-hpa conflict) and prints its root.
unpack_deb() {
    local pkg=$1 dir=$2
    mkdir -p "$dir/$pkg"
    (cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1) || { echo "cannot download $pkg" >&2; return 1; }
    dpkg-deb -x "$dir"/"${pkg}"_*.deb "$dir/$pkg"
    echo "$dir/$pkg"
}
