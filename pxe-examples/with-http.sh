#!/bin/bash
# with-http.sh DIR PORT COMMAND [ARG...]
#
# Serves DIR read-only over HTTP on 127.0.0.1:PORT (python3 -m http.server)
# while COMMAND runs, then stops the server. Exits with COMMAND's status.
# Requests are logged to $HTTP_LOG (default: /dev/null).
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

python3 -m http.server --bind 127.0.0.1 --directory "$dir" "$port" >"${HTTP_LOG:-/dev/null}" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT

# Wait until the server answers (at most 10 s).
for _ in $(seq 100); do
    if ! kill -0 "$server" 2>/dev/null; then
        echo "error: the HTTP server on 127.0.0.1:$port did not start (port in use?)" >&2
        exit 1
    fi
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$port" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

"$@"
