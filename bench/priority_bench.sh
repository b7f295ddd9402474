#!/usr/bin/env bash
# What priority levels buy a latency-sensitive client on a loaded server:
# LeNet-5 (priority_levels: 2, default 2) under a background load of
# 16-image requests from 16 clients at level 2, while one probe client
# sends 1-image requests at level 1, then (same server, next step) at
# level 2, where it queues behind the load. Rounds alternate the order, as
# this machine is noisy; compare medians.
#
#   bench/priority_bench.sh [ROUNDS=3] [DURATION=5s]
# Prints one line per round and probe level: the probe's infer/s, p50 and
# p99 in ms, and the background's images/s over the same step.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
duration=${2:-5s}
bazel build -c opt //server:convd //client:convload >/dev/null 2>&1
source tools/convd_process.sh
work=$(mktemp -d)
background_pid=
cleanup() {
  [ -n "$background_pid" ] && kill "$background_pid" 2>/dev/null
  stop_convd >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# The bundled lenet5, its files linked, with two priority levels.
mkdir -p "$work/models/lenet5"
for entry in models/lenet5/*; do
  [ "$(basename "$entry")" = config.pbtxt ] || ln -s "$PWD/$entry" "$work/models/lenet5/"
done
sed 's/^dynamic_batching {/dynamic_batching {\n  priority_levels: 2\n  default_priority_level: 2/' \
  models/lenet5/config.pbtxt >"$work/models/lenet5/config.pbtxt"
grep -q 'priority_levels: 2' "$work/models/lenet5/config.pbtxt"
start_convd "$work/models" --device=cpu

seconds=${duration%s}
printf '%-6s %-6s %10s %8s %8s %14s\n' round probe infer/s p50_ms p99_ms background_img/s
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then levels="1 2"; else levels="2 1"; fi
  for level in $levels; do
    # The load runs from before the probe's warm-up to after its end.
    ./bazel-bin/client/convload lenet5 --url "127.0.0.1:$CONVD_GRPC_PORT" --batch 16 \
      --concurrency 16 --priority 2 --duration "$((seconds + 2))s" --warmup 1s --quiet \
      --json "$work/background.json" >/dev/null 2>&1 &
    background_pid=$!
    sleep 1
    probe=$(
      convload_step "$(printf '%-6s %-6s' "$round" "$level")" lenet5 127.0.0.1 1 "$duration" \
        --priority "$level"
    )
    wait "$background_pid"
    background_pid=
    images=$(python3 -c "
import json, sys
print('%.0f' % json.load(open(sys.argv[1]))['steps'][0]['images_per_s'])" "$work/background.json")
    printf '%s %14s\n' "$probe" "$images"
  done
done
stop_convd
