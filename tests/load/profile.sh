#!/usr/bin/env bash
# Where each microsecond of an event goes: `perf record` samples the whole `gancho serve` process (every
# thread, kernel included) while wrk posts `call.ended` events through the template plugin to an nginx
# receiver, as in tests/load/wrk.sh; the CPU time the process used is divided among the stages by their
# share of the samples (inclusive: a stage counts everything it calls). The samples end once every
# accepted event has been delivered. Prints a table of µs of CPU per delivered event, per stage (on
# PostgreSQL also the database's own CPU per event), and leaves the report in target/profile/.
#
#   tests/load/profile.sh [SECONDS] [BACKEND]     (default: 10 s, sqlite; or postgres)
#
# GANCHO_BENCH_BINARY: the gancho to profile (default ./target/release/gancho, built here, with line tables
# for symbols). Needs perf (Debian's linux-perf), wrk, nginx (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/load/nginx.sh
source tests/load/nginx.sh
seconds=${1:-10}
backend=${2:-sqlite}
binary=${GANCHO_BENCH_BINARY:-./target/release/gancho}
admin_url=${GANCHO_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
plugin=target/wasm32-wasip2/plugin/gancho_plugin_template.wasm
out=target/profile
mkdir -p "$out"

install_missing perf linux-perf wrk wrk nginx nginx jq jq psql postgresql-client
if [ -z "${GANCHO_BENCH_BINARY:-}" ]; then cargo build --release -p gancho --bin gancho; fi
cargo build -p gancho-plugin-template --target wasm32-wasip2 --profile plugin

work=$(mktemp -d)
pid=""
database=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  stop_nginx "$work"
  [ -n "$database" ] && psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export GANCHO_OPERATOR_TOKEN=bench-operator-$(openssl rand -hex 16) GANCHO_INGEST_TOKEN=bench-ingest
export GANCHO_ALLOWED_DESTINATIONS=127.0.0.0/8 GANCHO_LOG=warn

receiver=127.0.0.1:18400
start_nginx "$receiver" "$work"

if [ "$backend" = postgres ]; then
  database=gancho_profile_$$
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database" >/dev/null
  export GANCHO_DATABASE_URL=${admin_url%/*}/$database
fi
GANCHO_LISTEN=127.0.0.1:18410 GANCHO_DATA_DIR=$work/data "$binary" serve 2>"$work/gancho.log" &
pid=$!
for _ in $(seq 150); do curl -sf http://127.0.0.1:18410/healthz >/dev/null && break; sleep 0.1; done
api() {
  curl -sf "http://127.0.0.1:18410$1" -H "authorization: Bearer $GANCHO_OPERATOR_TOKEN" \
    -H "content-type: ${3:-application/json}" --data-binary "$2" >/dev/null || { echo "setup failed: $1" >&2; exit 1; }
}
api /v1/tenants '{"id": "bench", "name": "profile"}'
api /v1/plugins/template/versions "@$plugin" application/wasm
template='{"event_id": "{{event.id}}", "call_id": "{{call.id}}", "from": "{{call.from}}", "to": "{{call.to}}", "status": "{{call.status}}", "duration_s": {{call.duration_s}}, "cost": {{call.cost}}}'
api /v1/tenants/bench/subscriptions "$(jq -cn --arg t "$template" --arg url "http://$receiver/hook" \
  '{event_types: ["call.ended"], plugin: "template@1", endpoint_url: $url, config: {format: "json", template: $t}}')"

event=$(bench_event)
cat >"$work/events.lua" <<EOF
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) n = 0 end
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $GANCHO_INGEST_TOKEN"
local event = "$(lua_string "$event")"
local before, after = event:match('^(.-)"ID"(.*)$')
request = function()
  n = n + 1
  return wrk.format(nil, "/v1/events", nil, before .. '"p-' .. tid .. "-" .. n .. '"' .. after)
end
EOF

# PostgreSQL's own CPU (every `postgres` process: the connections' backends, the WAL writer, the
# checkpointer), which runs on the same two cores.
pg_ticks() { # sums over the processes named postgres; 0 when there are none
  local total=0
  for stat in /proc/[0-9]*/stat; do
    read -r _ comm rest <"$stat" 2>/dev/null || continue
    [ "$comm" = "(postgres)" ] && total=$((total + $(awk '{print $14 + $15}' "$stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
base=$(answered "$receiver")
ticks_before=$(process_ticks "$pid")
pg_before=$(pg_ticks)
perf record -F 499 -g --call-graph dwarf,16384 -p "$pid" -o "$out/perf.data" 2>"$work/perf.log" &
perf_pid=$!
sleep 0.5
wrk -t2 -c64 -d"${seconds}s" -s "$work/events.lua" http://127.0.0.1:18410 >"$work/wrk.txt"
# The samples and the CPU count end once every accepted event's delivery has arrived (or nothing more
# arrived for 3 s), so what a backlog left to deliver is not counted to fewer events than it cost.
refused=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt" | tail -1)
accepted=$(( $(awk '/requests in/ {print $1}' "$work/wrk.txt") - ${refused:-0} ))
last=0 still=0 polls=0
while [ "$still" -lt 60 ]; do
  polls=$((polls + 1))
  now=$(( $(answered "$receiver") - base - polls ))
  [ "$now" -ge "$accepted" ] && break
  if [ "$now" -gt "$last" ]; then last=$now still=0; else still=$((still + 1)); fi
  sleep 0.05
done
kill -INT "$perf_pid" 2>/dev/null || true
wait "$perf_pid" || true
ticks_after=$(process_ticks "$pid")
pg_after=$(pg_ticks)
delivered=$(( $(answered "$receiver") - base - polls - 1 ))
hz=$(getconf CLK_TCK)
cpu_us_per_event=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$hz" -v d="$delivered" 'BEGIN { printf "%.1f", t / hz * 1e6 / d }')
echo "delivered $delivered events; gancho used $(awk -v t=$((ticks_after - ticks_before)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }') s of CPU: $cpu_us_per_event µs per event"
if [ "$backend" = postgres ]; then
  awk -v t=$((pg_after - pg_before)) -v hz="$hz" -v d="$delivered" \
    'BEGIN { printf "PostgreSQL used %.2f s of CPU: %.1f µs per event (not in the table below)\n", t / hz, t / hz * 1e6 / d }'
fi

# --no-demangle keeps perf report quick; the inlined frames it prints are readable anyway.
perf report -i "$out/perf.data" --children --no-demangle -g none --percent-limit 0.1 --stdio --sort symbol 2>/dev/null |
  awk '/^ +[0-9.]+%/ { sub(/ +- +- *$/, ""); print }' >"$out/report.txt"

# The stages, each a fixed string over the report's symbols; a stage's share is its largest match
# (inclusive: a store call counts its SQL and its commit).
stage() { # stage LABEL STRING…
  local label=$1; shift
  local best=0
  for pattern in "$@"; do
    local share
    share=$({ grep -F -- "$pattern" "$out/report.txt" || true; } | awk '{v = $1; sub("%", "", v); v += 0; if (v > m) m = v} END {print m + 0}')
    best=$(awk -v a="$best" -v b="$share" 'BEGIN { print (b > a ? b : a) }')
  done
  awk -v l="$label" -v s="$best" -v c="$cpu_us_per_event" 'BEGIN { printf "| %-46s | %5.1f%% | %6.1f µs |\n", l, s, s * c / 100 }'
}
printf '| %-46s | %6s | %9s |\n' "stage (inclusive)" share "per event"
printf '|%s|%s|%s|\n' ------------------------------------------------ -------- -----------
stage "HTTP server: connections, parsing, handlers" "dispatch::Server<"
stage "  ingest handler (envelope check, queue)" "api::events::ingest::{async_fn" "events4ingest"
# The store's stages: SQLite runs them on its writer thread (`…::{async_block`), PostgreSQL in the async
# store methods (`Store>::name`, mangled with the name's length) and the driver's connection task.
stage "event commit (SQL + commit)" "insert_events::{async_block" 'Store$GT$13insert_events'
stage "event claim (SQL + commit)" "claim_events::{async_block" 'Store$GT$12claim_events'
stage "subscriptions read" "list_subscriptions::{async_block" 'Store$GT$18list_subscriptions'
stage "plugin run (wasmtime)" "invoke_limited (inlined)" "invoke_limited_async"
stage "deliveries commit (SQL + commit, hand-off)" "complete_events::{async_block" "complete_events_handing_off::{async_block" \
  'Store$GT$27complete_events_handing_off'
stage "delivery claim (SQL + plan + commit)" "claim_deliveries::{async_block" 'Store$GT$16claim_deliveries'
stage "signing" "delivery7signing4sign" "delivery::signing::sign"
stage "HTTP client (connection task)" "dispatch::Client<"
stage "attempt record (SQL + commit)" "record_attempts::{async_block" 'Store$GT$15record_attempts'
stage "  of the SQL above: commits (WAL writes, syncs)" "sqlite3VdbeHalt" "execute_batch (inlined)"
stage "  of the SQL above: WAL page writes" "sqlite3WalFrames"
stage "  of the SQL above: fsync" "do_fsync"
stage "WAL checkpoints (SQLite: their own thread)" "sqlite3WalCheckpoint"
stage "  PostgreSQL driver (its connection task)" 'tokio_postgres..connection..Connection$LT$S$C$T$GT$$u20$as$u20$core..future..future..Future$GT$4poll'
stage "metrics" "gancho7metrics7Metrics" "gancho::metrics::Metrics"
stage "logging" "tracing_subscriber"
stage "allocator" "__GI___libc_malloc" "mi_malloc" "_mi_malloc_generic"
stage "kernel: context switches" "finish_task_switch"
stage "kernel: TCP send" "tcp_sendmsg"
stage "kernel: futex" "__x64_sys_futex"
echo "full report: $out/report.txt"
