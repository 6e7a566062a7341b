#!/usr/bin/env bash
# End-to-end load benchmark: the Slack plugin, events posted by tests/load/loadgen.rs at a given rate, received
# by its own local receiver. Runs against SQLite (one instance), PostgreSQL (one instance) and PostgreSQL (two
# instances), and for PostgreSQL reports its CPU time and transactions per delivered event.
#
#   tests/load/benchmark.sh [RATE] [SECONDS]        (default: 0 = as fast as it goes, 10 s)
#
# PostgreSQL: GANCHO_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); the benchmark
# creates and drops a database of its own there. Needs psql.
# GANCHO_BENCH_BINARY: the gancho binary to measure (default the one built here, to compare with another
# build); GANCHO_BENCH_RUNS: which runs (default "sqlite 1 2": SQLite, then PostgreSQL with 1 and 2 instances).
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:-0}
seconds=${2:-10}
admin_url=${GANCHO_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
binary=${GANCHO_BENCH_BINARY:-./target/release/gancho}
runs=${GANCHO_BENCH_RUNS:-sqlite 1 2}
cargo build --release -p gancho --bin gancho --example loadgen
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
export GANCHO_OPERATOR_TOKEN=bench-operator-$(openssl rand -hex 16) GANCHO_INGEST_TOKEN=bench-ingest GANCHO_ALLOWED_DESTINATIONS=127.0.0.0/8 GANCHO_LOG=warn

start() { # start NAME PORT [DATABASE_URL]
  GANCHO_LISTEN=127.0.0.1:$2 GANCHO_DATA_DIR=$work/$1 GANCHO_DATABASE_URL=${3:-} "$binary" serve 2>"$work/$1.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.1; done
  echo "instance $1 did not start: $(cat "$work/$1.log")" >&2; exit 1
}
stop_all() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; pids=(); }
postgres_cpu_ticks() { # user+system clock ticks of every postgres process, each counted once
  local total=0
  for pid in $({ pgrep -x postgres; pgrep -f '^postgres:'; } | sort -u); do
    if [ -r "/proc/$pid/stat" ]; then total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); fi
  done
  echo "$total"
}
load() { ./target/release/examples/loadgen --url "$1" --rate "$rate" --seconds "$seconds" --connections 64; }

if [[ " $runs " == *" sqlite "* ]]; then
  echo "== SQLite, 1 instance"
  start sqlite 18080
  load http://127.0.0.1:18080
  stop_all
fi

database=gancho_bench_$$
server=${admin_url%/*}
for instances in $runs; do
  [ "$instances" = sqlite ] && continue
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database"
  urls=""
  for i in $(seq "$instances"); do
    start "pg$i" $((18090 + i)) "$server/$database"
    urls="${urls:+$urls,}http://127.0.0.1:$((18090 + i))"
  done
  echo "== PostgreSQL, $instances instance(s)"
  ticks_before=$(postgres_cpu_ticks)
  xacts_before=$(psql "$server/$database" -tAc "SELECT xact_commit FROM pg_stat_database WHERE datname = '$database'")
  load "$urls" | tee "$work/load.txt"
  ticks_after=$(postgres_cpu_ticks)
  xacts_after=$(psql "$server/$database" -tAc "SELECT xact_commit FROM pg_stat_database WHERE datname = '$database'")
  delivered=$(awk '/^delivered/ {print $2}' "$work/load.txt")
  hz=$(getconf CLK_TCK)
  awk -v t=$((ticks_after - ticks_before)) -v x=$((xacts_after - xacts_before)) -v d="$delivered" -v hz="$hz" \
    'BEGIN { printf "postgres         %.3f ms CPU and %.2f transactions per delivered event\n", t * 1000 / hz / d, x / d }'
  stop_all
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)"
done
