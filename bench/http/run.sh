#!/usr/bin/env bash
# HTTP throughput: 8 parallel curl downloads of a 1 GiB file from our server and from nginx (sendfile on),
# both on loopback in the same run. Prints seconds and the ratio nginx/ours (goal >= 1.0). Never fails on a number.
set -euo pipefail
. "$(dirname "$0")/../serve-load/common.sh"
resolve_server
command -v nginx >/dev/null || { echo "installing nginx-light for the comparison" >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null; }

SIZE_MIB=${SIZE_MIB:-1024}
CLIENTS=${CLIENTS:-8}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d /tmp/bench-http.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
chmod 755 "$work"
mkdir -p "$work/root" "$work/nginx"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$work/root/big.img"
cat "$work/root/big.img" > /dev/null   # both servers read from the page cache

ours=$(free_port)
theirs=$(free_port)
"$OVERLAY_BIN" serve --dir "$work/root" --http "127.0.0.1:$ours" >/dev/null 2>"$work/ours.log" &
pids+=($!)
cat > "$work/nginx/nginx.conf" <<CONF
daemon off;
user root;
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$theirs;
        root $work/root;
    }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
wait_tcp "$ours"
wait_tcp "$theirs"

download() {
    local port=$1 i
    for i in $(seq "$CLIENTS"); do
        curl -sS -f -o /dev/null "http://127.0.0.1:$port/big.img" &
    done
    wait
}

# Check once that both serve the same bytes.
want=$(sha256sum < "$work/root/big.img" | cut -c1-64)
for port in "$ours" "$theirs"; do
    got=$(curl -sS "http://127.0.0.1:$port/big.img" | sha256sum | cut -c1-64)
    [ "$got" = "$want" ] || echo "warning: port $port served different bytes" >&2
done

best_ours=999999
best_nginx=999999
for round in $(seq "$ROUNDS"); do
    # Alternate who goes first, so neither always meets a warmer or busier machine.
    if [ $((round % 2)) -eq 1 ]; then
        t_ours=$(seconds download "$ours")
        t_nginx=$(seconds download "$theirs")
    else
        t_nginx=$(seconds download "$theirs")
        t_ours=$(seconds download "$ours")
    fi
    echo "round $round: overlay ${t_ours}s  nginx ${t_nginx}s"
    best_ours=$(awk -v a="$best_ours" -v b="$t_ours" 'BEGIN { print (b < a ? b : a) }')
    best_nginx=$(awk -v a="$best_nginx" -v b="$t_nginx" 'BEGIN { print (b < a ? b : a) }')
done
echo "http: ${CLIENTS} x ${SIZE_MIB} MiB: overlay ${best_ours}s, nginx ${best_nginx}s, speed ratio overlay/nginx = $(ratio "$best_nginx" "$best_ours")x (goal >= 1.0)"
