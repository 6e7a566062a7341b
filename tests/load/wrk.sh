#!/usr/bin/env bash
# The wrk method: `wrk` posts ~600-byte `call.ended` events (each its own id) to `POST /v1/events`; the
# template plugin turns each into one JSON request to an nginx receiver; an event counts once nginx has
# answered its delivery. Every run first measures the box's raw HTTP ceiling — the same wrk against the same
# nginx alone — so that the share of it Gancho reaches survives this box's noise. Prints a table:
#
#   | run | events/s delivered | raw ceiling req/s | % of ceiling | ingest p99 | Gancho's CPU per event |
#
# The last column is the CPU time the gancho processes used (user and kernel, every thread) from the first
# post until the last delivery, per delivered event: what a change to the hot path moves even when this
# box's speed drifts the throughput more.
#
#   tests/load/wrk.sh [SECONDS] [ROUNDS]        (default: 10 s, 1 round)
#
# GANCHO_BENCH_RUNS: which runs (default "sqlite pg1 pg2": SQLite; PostgreSQL with one and two instances).
# GANCHO_BENCH_BINARY: the gancho to measure (default ./target/release/gancho, built here);
# GANCHO_BENCH_BEFORE: another build, run before it in each round (interleaved, to compare two builds).
# GANCHO_BENCH_BATCH: events per post (default 1); above 1, each post is a JSON array of that many events
# (the batch form of `POST /v1/events`, for a platform that buffers).
# GANCHO_BENCH_DATABASE_URL: PostgreSQL (default postgres://postgres@127.0.0.1:5432/test); the script makes
# and drops a database of its own there. wrk, nginx and psql come from Debian's packages, installed if
# missing (apt-get, as root or through sudo).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/load/nginx.sh
source tests/load/nginx.sh
seconds=${1:-10}
rounds=${2:-1}
runs=${GANCHO_BENCH_RUNS:-sqlite pg1 pg2}
binary=${GANCHO_BENCH_BINARY:-./target/release/gancho}
before=${GANCHO_BENCH_BEFORE:-}
batch=${GANCHO_BENCH_BATCH:-1}
admin_url=${GANCHO_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
plugin=target/wasm32-wasip2/plugin/gancho_plugin_template.wasm

install_missing wrk wrk nginx nginx psql postgresql-client jq jq

if [ -z "${GANCHO_BENCH_BINARY:-}" ]; then cargo build --release -p gancho --bin gancho; fi
cargo build -p gancho-plugin-template --target wasm32-wasip2 --profile plugin

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_nginx "$work"
  rm -rf "$work"
}
trap cleanup EXIT
export GANCHO_OPERATOR_TOKEN=bench-operator-$(openssl rand -hex 16) GANCHO_INGEST_TOKEN=bench-ingest
export GANCHO_ALLOWED_DESTINATIONS=127.0.0.0/8 GANCHO_LOG=warn

# The receiver: nginx answering 200 to anything, `stub_status` counting what it answered.
receiver=127.0.0.1:18300
start_nginx "$receiver" "$work"

# The event: the catalog's `call.ended` sample, compact (about 600 bytes), its id made unique per request.
event=$(bench_event)
cat >"$work/events.lua" <<EOF
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) n = 0; run = args[1] or "r" end
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $GANCHO_INGEST_TOKEN"
local event = "$(lua_string "$event")"
local before, after = event:match('^(.-)"ID"(.*)$')
local batch = $batch
request = function()
  if batch == 1 then
    n = n + 1
    return wrk.format(nil, "/v1/events", nil, before .. '"' .. run .. "-" .. tid .. "-" .. n .. '"' .. after)
  end
  local events = {}
  for i = 1, batch do
    n = n + 1
    events[i] = before .. '"' .. run .. "-" .. tid .. "-" .. n .. '"' .. after
  end
  return wrk.format(nil, "/v1/events", nil, "[" .. table.concat(events, ",") .. "]")
end
EOF
cat >"$work/ceiling.lua" <<EOF
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = "$(lua_string "$event")"
EOF

requests_per_sec() { awk '/^Requests\/sec/ {printf "%.0f", $2}'; }
# wrk prints its latency distribution with --latency; the 99% line, in ms.
p99_ms() { awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; printf "%.1f", v }'; }

start_gancho() { # start_gancho BINARY NAME PORT [DATABASE_URL]
  GANCHO_LISTEN=127.0.0.1:$3 GANCHO_DATA_DIR=$work/$2 GANCHO_DATABASE_URL=${4:-} "$1" serve 2>"$work/$2.log" &
  pids+=($!)
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$3/healthz" >/dev/null && return; sleep 0.1; done
  echo "gancho ($2) did not start: $(cat "$work/$2.log")" >&2; exit 1
}
stop_gancho() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; pids=(); }
api() { # api PORT PATH BODY [CONTENT-TYPE]
  curl -sf "http://127.0.0.1:$1$2" -H "authorization: Bearer $GANCHO_OPERATOR_TOKEN" \
    -H "content-type: ${4:-application/json}" --data-binary "$3" >/dev/null \
    || { echo "setup failed: POST $2" >&2; exit 1; }
}
setup_tenant() { # setup_tenant PORT: the tenant, the template plugin, one subscription to nginx
  api "$1" /v1/tenants '{"id": "bench", "name": "wrk benchmark"}'
  api "$1" /v1/plugins/template/versions "@$plugin" application/wasm
  local template='{"event_id": "{{event.id}}", "call_id": "{{call.id}}", "from": "{{call.from}}", "to": "{{call.to}}", "status": "{{call.status}}", "duration_s": {{call.duration_s}}, "cost": {{call.cost}}}'
  api "$1" /v1/tenants/bench/subscriptions "$(jq -cn --arg t "$template" --arg url "http://$receiver/hook" \
    '{event_types: ["call.ended"], plugin: "template@1", endpoint_url: $url, config: {format: "json", template: $t}}')"
}

run() { # run LABEL BINARY KIND → one table row
  local label=$1 bin=$2 kind=$3 ports=() database=""
  local ceiling
  ceiling=$(wrk -t2 -c64 -d"${seconds}s" -s "$work/ceiling.lua" "http://$receiver/hook" | requests_per_sec)
  case $kind in
    sqlite) start_gancho "$bin" "sqlite-$RANDOM" 18310; ports=(18310) ;;
    pg*)
      database=gancho_wrk_$$
      psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database" >/dev/null
      for i in $(seq "${kind#pg}"); do
        start_gancho "$bin" "pg$i-$RANDOM" $((18320 + i)) "${admin_url%/*}/$database"
        ports+=($((18320 + i)))
      done ;;
  esac
  setup_tenant "${ports[0]}"
  local base; base=$(answered "$receiver")
  local started; started=$(date +%s.%N)
  local ticks_before; ticks_before=$(process_ticks "${pids[@]}")
  # Two instances: one wrk each, half the connections each.
  local threads=$((2 / ${#ports[@]})) connections=$((64 / ${#ports[@]})) outs=()
  for port in "${ports[@]}"; do
    wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s "$work/events.lua" \
      "http://127.0.0.1:$port" -- "$RANDOM$port" >"$work/wrk-$port.txt" &
    outs+=($!)
  done
  wait "${outs[@]}"
  local posted=0 refused=0 p99=""
  for port in "${ports[@]}"; do
    posted=$((posted + $(awk '/requests in/ {print $1}' "$work/wrk-$port.txt")))
    refused=$((refused + $(awk '/Non-2xx/ {print $NF}' "$work/wrk-$port.txt" | tail -1 || echo 0) + 0))
    p99="${p99:+$p99/}$(p99_ms <"$work/wrk-$port.txt")"
  done
  local accepted=$(((posted - refused) * batch))
  # Delivered: what nginx answered (less this script's own status reads) until every accepted event's
  # delivery arrived, or nothing more arrived for 5 s.
  local delivered=0 last_change; last_change=$(date +%s.%N)
  local finished=$last_change polls=0
  while :; do
    local now count; count=$(answered "$receiver"); polls=$((polls + 1)); now=$(date +%s.%N)
    count=$((count - base - polls))
    if [ "$count" -gt "$delivered" ]; then delivered=$count; finished=$now; last_change=$now; fi
    [ "$delivered" -ge "$accepted" ] && break
    awk -v a="$now" -v b="$last_change" 'BEGIN { exit !(a - b > 5) }' && break
    sleep 0.05
  done
  local ticks=$(($(process_ticks "${pids[@]}") - ticks_before))
  # How the deliveries reached the delivery worker: handed over by their commit, or claimed.
  local handed=0
  for port in "${ports[@]}"; do
    handed=$((handed + $(curl -sf "http://127.0.0.1:$port/metrics" -H "authorization: Bearer $GANCHO_OPERATOR_TOKEN" \
      | awk '/^gancho_deliveries_handed_total/ {printf "%d", $2}' || true) + 0))
  done
  stop_gancho
  [ -n "$database" ] && psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null
  local rate; rate=$(awk -v d="$delivered" -v s="$started" -v f="$finished" 'BEGIN { printf "%.0f", d / (f - s) }')
  local cpu; cpu=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v d="$delivered" 'BEGIN { printf "%.1f", d ? 1e6 * t / hz / d : 0 }')
  printf '| %-26s | %8s | %6s of %-6s | %9s | %7s | %5.1f%% | %9s ms | %7s µs |\n' "$label" "$rate" "$delivered" \
    "$accepted" "$ceiling" "$refused" "$(awk -v r="$rate" -v c="$ceiling" 'BEGIN { print 100 * r / c }')" "$p99" "$cpu"
  [ "$delivered" -ge "$accepted" ] || echo "   ^ $((accepted - delivered)) accepted events were not delivered" >&2
  echo "   ^ deliveries handed over by their commit (not claimed): $handed" >&2
}

printf '| %-26s | %8s | %15s | %9s | %7s | %6s | %12s | %10s |\n' run "events/s" "delivered" "ceiling/s" refused "ratio" "ingest p99" "CPU/event"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ---------------------------- ---------- ----------------- ----------- --------- -------- -------------- ------------
for round in $(seq "$rounds"); do
  for kind in $runs; do
    case $kind in sqlite) name="SQLite" ;; pg1) name="PostgreSQL, 1 instance" ;; *) name="PostgreSQL, ${kind#pg} instances" ;; esac
    [ "$batch" -gt 1 ] && name="$name, ${batch}/post"
    [ -n "$before" ] && run "$name (before)" "$before" "$kind"
    run "$name" "$binary" "$kind"
  done
done
