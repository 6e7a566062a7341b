#!/usr/bin/env bash
# How fast the plugin-runs operation (what the console's live preview calls) answers for an uploaded,
# precompiled plugin: one tenant, the Slack plugin, a missed call, sequential requests over one connection
# each, as a browser would make them. Prints the round trip (curl's time_total) and the time the plugin spent
# in the sandbox (the answer's elapsed_ms), p50 / p90 / p99 / max in ms.
#
#   tests/load/plugin_runs.sh [REQUESTS]        (default 500)
#
# GANCHO_BENCH_BINARY: the gancho binary to measure (default the one built here).
set -euo pipefail
cd "$(dirname "$0")/../.."
requests=${1:-500}
binary=${GANCHO_BENCH_BINARY:-./target/release/gancho}
[ -n "${GANCHO_BENCH_BINARY:-}" ] || cargo build --release -p gancho --bin gancho
cargo build -q -p gancho-plugin-slack --target wasm32-wasip2 --profile plugin
wasm=${CARGO_TARGET_DIR:-target}/wasm32-wasip2/plugin/gancho_plugin_slack.wasm
work=$(mktemp -d)
port=18180
url=http://127.0.0.1:$port
op=$(openssl rand -hex 32)   # gancho serve refuses a weak operator token
GANCHO_LISTEN=127.0.0.1:$port GANCHO_DATA_DIR=$work/data GANCHO_OPERATOR_TOKEN=$op GANCHO_INGEST_TOKEN=in \
  GANCHO_LOG=warn "$binary" serve 2>"$work/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done

auth=(-H "authorization: Bearer $op" -H 'content-type: application/json')
curl -sf "$url/v1/tenants" "${auth[@]}" -d '{"id": "acme", "name": "Acme"}' >/dev/null
curl -sf "$url/v1/tenants/acme/plugins/slack/versions" -H "authorization: Bearer $op" --data-binary @"$wasm" >/dev/null
body=$work/body.json
printf '{"plugin": "acme/slack", "event": %s, "config": %s}' \
  "$(cat plugin-sdk/samples/call.ended.missed.json)" "$(cat plugins/slack/config.example.json)" >"$body"

for _ in $(seq 20); do curl -sf "$url/v1/tenants/acme/plugin-runs" "${auth[@]}" --data @"$body" >/dev/null; done
for _ in $(seq "$requests"); do
  curl -sf -o "$work/answer.json" -w '%{time_total} ' "$url/v1/tenants/acme/plugin-runs" "${auth[@]}" --data @"$body"
  grep -o '"elapsed_ms":[0-9.e-]*' "$work/answer.json" | cut -d: -f2
done >"$work/times.txt"

summary() { # summary COLUMN SCALE
  awk -v c="$1" -v s="$2" '{print $c * s}' "$work/times.txt" | sort -n | awk '
    { v[NR] = $1 }
    END { printf "p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms (%d requests)\n",
          v[int(NR * 0.5)], v[int(NR * 0.9)], v[int(NR * 0.99)], v[NR], NR }'
}
echo "round trip       $(summary 1 1000)"
echo "in the sandbox   $(summary 2 1)"
