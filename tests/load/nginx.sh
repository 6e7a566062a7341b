# Shared by the wrk-method scripts (wrk.sh, profile.sh), sourced: installing what they need from Debian's
# packages, the nginx receiver, the event wrk posts, and the CPU time processes used.

process_ticks() { # process_ticks PID …: the clock ticks (user and kernel, every thread) these processes used
  local pid total=0
  for pid in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "$total"
}

install_missing() { # install_missing COMMAND PACKAGE …: apt-get installs the packages whose command is missing
  local missing=()
  while [ $# -gt 0 ]; do command -v "$1" >/dev/null || missing+=("$2"); shift 2; done
  [ ${#missing[@]} -eq 0 ] && return
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "installing ${missing[*]} (Debian packages)" >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_nginx() { # start_nginx ADDRESS DIR: nginx answering 200 to anything at ADDRESS, `/status` counting
  local address=$1 dir=$2
  # `reuseport` would let a receiver left behind by an interrupted run share the port and half the counts.
  if curl -s -o /dev/null --max-time 1 "http://$address/"; then
    echo "something already answers at $address (a receiver left by an interrupted run? \`ss -ltnp\` names it): stop it first" >&2
    return 1
  fi
  mkdir -p "$dir/nginx"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/nginx/body; proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi; uwsgi_temp_path $dir/nginx/uwsgi; scgi_temp_path $dir/nginx/scgi;
  keepalive_requests 10000000;
  server {
    listen $address reuseport;
    location = /status { stub_status; }
    location / { return 200 "ok\n"; }
  }
}
CONF
  "$(command -v nginx)" -p "$dir/nginx" -c "$dir/nginx.conf"
}

stop_nginx() { # stop_nginx DIR
  [ -f "$1/nginx.pid" ] && kill "$(cat "$1/nginx.pid")" 2>/dev/null
  return 0
}

answered() { # answered ADDRESS: the requests nginx has answered (its status reads included)
  curl -sf "http://$1/status" | awk 'NR == 3 {print $3}'
}

# The catalog's `call.ended` sample, compact (about 600 bytes), of tenant `bench`, its id `ID`.
bench_event() { jq -c '.tenant = "bench" | .id = "ID"' plugin-sdk/samples/call.ended.json; }

lua_string() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
