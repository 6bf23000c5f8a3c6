#!/usr/bin/env bash
# The README's data-channel broadcast run: a Vitrine binary with its
# defaults on fresh data, one published, live campaign with a product, and
# vitrine-load with N events-socket viewers (M timed) pinning and chatting.
#
#   scripts/events-bench.sh [BINARY] [VIEWERS] [TIMED] [RAMP] [DURATION]
#
# Defaults: bin/vitrine 10000 1000 20s 40s. Needs curl and python3; raises
# the open-file limit to 20,000 for both. CPUS="0,1" pins the server and
# the tool to those cores together (taskset), as on a 2-core machine.
set -euo pipefail
bin=${1:-bin/vitrine}; viewers=${2:-10000}; timed=${3:-1000}; ramp=${4:-20s}; duration=${5:-40s}
cd "$(dirname "$0")/.."
ulimit -n 20000
pin=()
[ -n "${CPUS:-}" ] && pin=(taskset -c "$CPUS")
data=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
export VITRINE_DATA_DIR=$data VITRINE_ADMIN_TOKEN=bench-token-0123456789abcdef
"${pin[@]}" "$bin" >"$data/server.log" 2>&1 &
pid=$!
api=http://127.0.0.1:8080/api/v1
auth=(-H "Authorization: Bearer $VITRINE_ADMIN_TOKEN" -H "Content-Type: application/json")
for _ in $(seq 100); do curl -sf http://127.0.0.1:8080/healthz >/dev/null && break; sleep 0.1; done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
prd=$(curl -sf "${auth[@]}" $api/products -d '{"sku":"BAG-1","name":"Leather bag","category":"bags",
  "price":"129.00","currency":"EUR","stock":10,"url":"https://shop.example.com/bag-1"}' | json "['id']")
start=$(date -u +%FT%TZ); end=$(date -u -d '+2 hours' +%FT%TZ)
cmp=$(curl -sf "${auth[@]}" $api/campaigns -d '{"title":"Bench","visibility":"suggested","starts_at":"'$start'",
  "ends_at":"'$end'","product_ids":["'$prd'"],"published":true}' | json "['id']")
curl -sf "${auth[@]}" -X POST $api/campaigns/$cmp/live >/dev/null
load=${LOAD:-$(command -v vitrine-load || echo "go run ./cmd/vitrine-load")}
"${pin[@]}" $load -server http://127.0.0.1:8080 -stream "$cmp" -hls 0 -ws "$viewers" -ws-measure "$timed" \
  -token "$VITRINE_ADMIN_TOKEN" -chat-every 500ms -ramp "$ramp" -duration "$duration" -every 10s
