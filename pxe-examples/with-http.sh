#!/bin/bash
# with-http.sh DIR PORT COMMAND [ARG...]
#
# Serves DIR read-only over HTTP on 127.0.0.1:PORT (python3 -m http.server)
# while COMMAND runs, then stops the server. Exits with COMMAND's status, or 1
# when the server cannot start (the port is taken, for one).
# env  HTTP_LOG  keep the server's request log in this file
set -u

if [ $# -lt 3 ]; then
    echo "usage: $0 DIR PORT COMMAND [ARG...]" >&2
    exit 2
fi
dir=$1 port=$2
shift 2
if [ ! -d "$dir" ]; then
    echo "error: $dir is not a directory; nothing to serve" >&2
    exit 2
fi

log=$(mktemp)
python3 -u -m http.server --bind 127.0.0.1 --directory "$dir" "$port" >"$log" 2>&1 &
server=$!
stop() {
    kill "$server" 2>/dev/null
    wait "$server" 2>/dev/null
    if [ -n "${HTTP_LOG:-}" ]; then cp "$log" "$HTTP_LOG"; fi
    rm -f "$log"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server says "Serving HTTP on ..." once it is bound (at most 10 s).
for _ in $(seq 100); do
    if grep -q '^Serving HTTP on' "$log"; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "error: the HTTP server for $dir on 127.0.0.1:$port did not start: $(tail -n 1 "$log")" >&2
        exit 1
    fi
    sleep 0.1
done

"$@"
