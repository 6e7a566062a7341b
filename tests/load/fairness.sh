#!/usr/bin/env bash
# Fairness benchmark: a well-behaved tenant (the Slack plugin, 100 events/s) measured alone and next to each
# kind of bad neighbour on the same instance (SQLite): a plugin that runs to its deadline on every event
# (30/s), one that sleeps inside a host call (30/s), a hanging endpoint (100/s), and ten times the load
# (1,000/s through the Slack plugin). Prints the well-behaved tenant's ingest→receipt p50/p99/max per case,
# and, as the reference for the last case, one tenant alone at the same total rate (1,100/s): what the extra
# load itself costs, whoever sends it.
#
#   tests/load/fairness.sh [SECONDS]        (default 10)
#
# GANCHO_BENCH_BINARY: the gancho binary to measure (default the one built here, to compare with another
# build); GANCHO_BENCH_CASES: which cases (default "alone spinning sleeper hanging flood");
# GANCHO_BENCH_SERVE_ENV: settings for the service (default: plugins that keep timing out are not paused, so
# that the neighbour keeps misbehaving for the whole run; empty for a build that predates the setting).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
binary=${GANCHO_BENCH_BINARY:-./target/release/gancho}
cases=${GANCHO_BENCH_CASES:-alone spinning sleeper hanging flood same-load-alone}
serve_env=${GANCHO_BENCH_SERVE_ENV-GANCHO_PLUGINS__PAUSE_AFTER_TIMEOUTS=0}
cargo build --release -p gancho --bin gancho --example loadgen
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
export GANCHO_OPERATOR_TOKEN=bench-operator-$(openssl rand -hex 16) GANCHO_INGEST_TOKEN=bench-ingest GANCHO_ALLOWED_DESTINATIONS=127.0.0.0/8 GANCHO_LOG=warn
loadgen=./target/release/examples/loadgen
url=http://127.0.0.1:18100

rows=()
for case in $cases; do
  # A fresh instance per case, so no case inherits another's backlog.
  env $serve_env GANCHO_LISTEN=127.0.0.1:18100 GANCHO_DATA_DIR="$work/$case" "$binary" serve 2>"$work/$case.log" &
  server=$!
  pids+=("$server")
  for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
  neighbour=""
  case $case in
    alone) ;;
    spinning) neighbour=(--plugin misbehaving --plugin-config '{"behaviour": "endless-loop"}' --rate 30) ;;
    sleeper) neighbour=(--plugin misbehaving --plugin-config '{"behaviour": "sleep-in-host-call"}' --rate 30) ;;
    hanging) neighbour=(--receiver-delay-ms 60000 --rate 100) ;;
    flood) neighbour=(--rate 1000) ;;
    same-load-alone) ;;
    *) echo "unknown case $case" >&2; exit 2 ;;
  esac
  if [ "$case" != alone ]; then
    "$loadgen" --url "$url" --seconds $((seconds + 3)) --connections 16 --neighbour "${neighbour[@]}" >"$work/$case.neighbour" 2>&1 &
    pids+=("$!")
    sleep 2 # the neighbour's backlog builds up first
  fi
  echo "== $case"
  rate=100
  [ "$case" = same-load-alone ] && rate=1100
  "$loadgen" --url "$url" --rate "$rate" --seconds "$seconds" --connections 8 --drain-seconds 30 | tee "$work/$case.txt" || true
  latency=$(awk '/^ingest/ {print $3 " / " $6 " / " $9 " ms"}' "$work/$case.txt")
  delivered=$(awk '/^delivered/ {print $2 " of " $4}' "$work/$case.txt")
  rows+=("$(printf '%-9s %-8s %s' "$case" "${delivered:-?}" "${latency:-(no latency: see above)}")")
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=()
done

echo
echo "well-behaved tenant, 100 events/s for $seconds s, next to (same-load-alone: the tenant alone at 1,100/s):"
echo "case      delivered  ingest→receipt p50 / p99 / max"
for row in "${rows[@]}"; do echo "$row"; done
