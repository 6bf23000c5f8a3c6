#!/usr/bin/env bash
# The README's data-channel broadcast run: a Vitrine binary with its
# defaults on fresh data, and vitrine-load making a published, live
# campaign with a product (-stream new) and driving N events-socket viewers
# (M timed) while it pins and chats.
#
#   scripts/events-bench.sh [BINARY] [VIEWERS] [TIMED] [RAMP] [DURATION]
#
# Defaults: bin/vitrine 10000 1000 20s 40s. LOAD names the load tool's
# binary (default: go run ./cmd/vitrine-load). CPUS="0,1" pins the server
# and the tool to those cores together (taskset), as on a 2-core machine.
set -euo pipefail
bin=${1:-bin/vitrine}; viewers=${2:-10000}; timed=${3:-1000}; ramp=${4:-20s}; duration=${5:-40s}
cd "$(dirname "$0")/.."
ulimit -n 20000
pin=()
[ -n "${CPUS:-}" ] && pin=(taskset -c "$CPUS")
data=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$data"' EXIT
export VITRINE_DATA_DIR=$data VITRINE_ADMIN_TOKEN=${VITRINE_ADMIN_TOKEN:-bench-token-0123456789abcdef}
"${pin[@]}" "$bin" >"$data/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break
  sleep 0.1
done
load=${LOAD:-go run ./cmd/vitrine-load}
"${pin[@]}" $load -server http://127.0.0.1:8080 -stream new -hls 0 -ws "$viewers" -ws-measure "$timed" \
  -token "$VITRINE_ADMIN_TOKEN" -chat-every 500ms -ramp "$ramp" -duration "$duration" -every 10s
