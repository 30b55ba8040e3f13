#!/bin/bash
# boot-example.sh OVERLAY SERVE_DIR FLEET
#
# Boots an example fleet end to end: runs `OVERLAY serve` on SERVE_DIR with
# FLEET (HTTP and TFTP on 127.0.0.1), network-boots the QEMU nodes that
# FLEET's .expect file (fleet.toml -> fleet.expect) lists with boot-node.sh and
# checks what each one's /init prints. Each line of the .expect file is
#   MAC PROTOCOL LINE | LINE ...
# (PROTOCOL http or tftp: how iPXE fetches boot.ipxe; # starts a comment).
# Consoles go to SERVE_DIR/../boot-<mac>.log. Exits 0 when every node printed
# its lines and "OVERLAY-NODE READY", 1 otherwise.
# env  EXAMPLE_HTTP_PORT (8632), EXAMPLE_TFTP_PORT (6932), BOOT_TIMEOUT (180)
set -u

if [ $# -ne 3 ]; then
    echo "usage: $0 OVERLAY SERVE_DIR FLEET" >&2
    exit 2
fi
overlay=$1 dir=$2 fleet=$3
here=$(cd "$(dirname "$0")" && pwd)
http_port=${EXAMPLE_HTTP_PORT:-8632}
tftp_port=${EXAMPLE_TFTP_PORT:-6932}
logs=$(cd "$dir/.." && pwd)

expect=${fleet%.toml}.expect
for file in "$overlay" "$dir/vmlinuz" "$dir/base.cpio.zst" "$fleet" "$expect"; do
    if [ ! -e "$file" ]; then
        echo "error: $file is missing; run make example first" >&2
        exit 2
    fi
done

# The nodes report what they booted to the server (--state), at the address QEMU nodes reach it at (--advertise);
# the fleet status at the end says what each fetched and reported.
state=$(mktemp -d)
"$overlay" serve --dir "$dir" --fleet "$fleet" --state "$state" --advertise "http://10.0.2.2:$http_port" \
    --http "127.0.0.1:$http_port" --tftp "127.0.0.1:$tftp_port" >"$logs/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 100); do
    if ! kill -0 "$server" 2>/dev/null; then
        echo "error: overlay serve stopped at start:" >&2
        cat "$logs/serve.log" >&2
        exit 1
    fi
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$http_port" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
# A server that could not bind its ports stops at once; make sure this one is still up.
sleep 0.3
if ! kill -0 "$server" 2>/dev/null; then
    echo "error: overlay serve stopped at start:" >&2
    cat "$logs/serve.log" >&2
    exit 1
fi

failed=0
# boot MAC URL EXPECTED-LINE...: boots one node, checks each line is on its console.
boot() {
    local mac=$1 url=$2
    shift 2
    local log="$logs/boot-${mac//:/-}.log" started=$SECONDS
    BOOT_LOG=$log "$here/boot-node.sh" "$url" "$mac" "${BOOT_TIMEOUT:-180}" >/dev/null
    local status=$? missing=()
    for line in "$@" "OVERLAY-NODE READY"; do
        grep -qxF "$line" "$log" || missing+=("$line")
    done
    if [ "$status" -eq 0 ] && [ ${#missing[@]} -eq 0 ]; then
        echo "ok    $mac via ${url%%:*}: $* ($((SECONDS - started)) s)"
    else
        failed=1
        echo "FAIL  $mac via ${url%%:*}: exit $status, missing: ${missing[*]:-none}; console in $log"
    fi
}

while read -r mac protocol lines; do
    case $mac in '' | '#'*) continue ;; esac
    case $protocol in
    http) url="http://10.0.2.2:$http_port/boot.ipxe" ;;
    tftp) url="tftp://10.0.2.2:$tftp_port/boot.ipxe" ;;
    *) echo "error: $expect: $mac: protocol $protocol is neither http nor tftp" >&2; exit 2 ;;
    esac
    expected=()
    IFS='|' read -ra parts <<<"$lines"
    for line in "${parts[@]}"; do
        line=${line#"${line%%[! ]*}"}
        expected+=("${line%"${line##*[! ]}"}")
    done
    boot "$mac" "$url" "${expected[@]}" </dev/null
done <"$expect"
echo
echo "overlay fleet status (what each node fetched and reported):"
"$overlay" fleet status --server "http://127.0.0.1:$http_port" || true
exit "$failed"
