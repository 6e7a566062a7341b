#!/usr/bin/env bash
# A call centre writing to a Google Sheet: events posted at RATE per second for SECONDS to a stand-in sheet
# that allows PER_MINUTE writes a minute (429 RESOURCE_EXHAUSTED over it, no Retry-After, as Google
# answers), through the Google Sheets plugin and a connection whose budget says so. Prints the rows landed,
# the writes refused, and the ingest→row lag by 30 s of posting: flat means it keeps up.
#
#   tests/load/budgets.sh [RATE] [SECONDS] [PER_MINUTE]     (default: 50 events/s, 300 s, 60 writes/min)
#
# GANCHO_BENCH_BINARY / GANCHO_BENCH_LOADGEN: the builds to run (default: built here, in release).
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:-50}
seconds=${2:-300}
per_minute=${3:-60}
binary=${GANCHO_BENCH_BINARY:-./target/release/gancho}
loadgen=${GANCHO_BENCH_LOADGEN:-./target/release/examples/loadgen}
if [ -z "${GANCHO_BENCH_BINARY:-}" ] || [ -z "${GANCHO_BENCH_LOADGEN:-}" ]; then
  cargo build --release -p gancho --bin gancho --example loadgen
fi
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export GANCHO_OPERATOR_TOKEN=bench-operator GANCHO_INGEST_TOKEN=bench-ingest GANCHO_ALLOWED_DESTINATIONS=127.0.0.0/8 \
  GANCHO_LOG=warn GANCHO_CONNECTIONS__KEYS="k1:$(head -c 32 /dev/urandom | base64)"
GANCHO_LISTEN=127.0.0.1:18280 GANCHO_DATA_DIR=$work/data "$binary" serve 2>"$work/serve.log" &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:18280/healthz >/dev/null && break; sleep 0.1; done
"$loadgen" --url http://127.0.0.1:18280 --rate "$rate" --seconds "$seconds" --connections 8 \
  --sheets-per-minute "$per_minute" --drain-seconds 120
