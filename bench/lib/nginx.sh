# Sourced by the benchmarks: nginx as the reference reverse proxy (one worker, no master, no
# access log, keep-alive connections upstream), the proxy the project's throughput goals are
# calibrated against.

# Installs nginx-light from Debian's packages when nginx is missing; sets NGINX_BIN.
# Returns non-zero when nginx cannot be had.
ensure_nginx() {
    if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
        local sudo=()
        if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
        "${sudo[@]}" apt-get update -qq >/dev/null && "${sudo[@]}" apt-get install -y -qq nginx-light >/dev/null || return 1
    fi
    NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
}

# start_nginx DIR PORT UPSTREAM_PORT [PREFIX]: serves 127.0.0.1:PORT, proxying to
# 127.0.0.1:UPSTREAM_PORT; with PREFIX (e.g. /function/hello), only paths under it, with the
# prefix taken off, as a gateway would. Logs go to DIR. Sets NGINX_PID.
start_nginx() {
    local dir=$1 port=$2 upstream=$3 prefix=${4:-}
    local location="location / {" rewrite=""
    if [ -n "$prefix" ]; then
        location="location $prefix {"
        rewrite="rewrite ^$prefix(.*)\$ /\$1 break;"
    fi
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $dir/error.log;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    upstream next { server 127.0.0.1:$upstream; keepalive 256; }
    server {
        listen 127.0.0.1:$port;
        $location
            $rewrite
            proxy_pass http://next;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
    "$NGINX_BIN" -c "$dir/nginx.conf" -p "$dir" >"$dir/stderr.log" 2>&1 &
    NGINX_PID=$!
}
