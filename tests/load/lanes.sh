#!/usr/bin/env bash
# What ordering costs: events/s and ingest→receipt latency for one subscription (Slack plugin, SQLite, one
# instance, a fresh data directory per run), unordered, ordered by `call.id` over 1,000 calls, and over 10
# calls. Prints a table.
#
#   tests/load/lanes.sh [RATE] [SECONDS] [ROUNDS]     (default: 0 = as fast as it goes, 10 s, 1 round)
#
# GANCHO_BENCH_BINARY: the gancho binary (default the one built here); GANCHO_BENCH_BEFORE: another binary
# to run unordered, interleaved with it round by round (a build from before lanes, to compare);
# GANCHO_BENCH_BEFORE_LOADGEN: the load generator for it (one built with it, whose plugins it can run);
# GANCHO_BENCH_CASES: which cases (default "unordered keys1000 keys10").
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:-0}
seconds=${2:-10}
rounds=${3:-1}
binary=${GANCHO_BENCH_BINARY:-./target/release/gancho}
before=${GANCHO_BENCH_BEFORE:-}
cases=${GANCHO_BENCH_CASES:-unordered keys1000 keys10}
loadgen=${GANCHO_BENCH_LOADGEN:-./target/release/examples/loadgen}
if [ -z "${GANCHO_BENCH_BINARY:-}" ] || [ -z "${GANCHO_BENCH_LOADGEN:-}" ]; then
  cargo build --release -p gancho --bin gancho --example loadgen
fi
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export GANCHO_OPERATOR_TOKEN=bench-operator-$(openssl rand -hex 16) GANCHO_INGEST_TOKEN=bench-ingest GANCHO_ALLOWED_DESTINATIONS=127.0.0.0/8 GANCHO_LOG=warn

run() { # run LABEL BINARY [LOADGEN ARGS…] → one table row
  local label=$1 bin=$2; shift 2
  local loadgen=$loadgen
  [ "$bin" = "$before" ] && loadgen=${GANCHO_BENCH_BEFORE_LOADGEN:-$loadgen}
  local dir="$work/$label-$RANDOM"
  GANCHO_LISTEN=127.0.0.1:18180 GANCHO_DATA_DIR=$dir "$bin" serve 2>"$dir.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18180/healthz >/dev/null && break; sleep 0.1; done
  local out
  out=$("$loadgen" --url http://127.0.0.1:18180 --rate "$rate" --seconds "$seconds" --connections 64 "$@") || true
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  local delivered p50 p99
  delivered=$(echo "$out" | awk '/^delivered/ {print $NF == "events/s" ? $(NF-1) : $NF}')
  p50=$(echo "$out" | awk '/p50/ {for (i = 1; i <= NF; i++) if ($i ~ /^p50/) print $(i+1)}' | head -1)
  p99=$(echo "$out" | awk '/p99/ {for (i = 1; i <= NF; i++) if ($i ~ /^p99/) print $(i+1)}' | head -1)
  printf '| %-28s | %10s | %7s ms | %7s ms |\n' "$label" "$delivered" "$p50" "$p99"
}

printf '| %-28s | %10s | %10s | %10s |\n' case "events/s" "p50" "p99"
printf '|%s|%s|%s|%s|\n' "------------------------------" "------------" "------------" "------------"
for round in $(seq "$rounds"); do
  for case in $cases; do
    case $case in
      unordered)
        [ -n "$before" ] && run "unordered (before)" "$before"
        run "unordered" "$binary" ;;
      keys*)
        run "ordered, ${case#keys} keys" "$binary" --ordering-key call.id --keys "${case#keys}" ;;
    esac
  done
done
