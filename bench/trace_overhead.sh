#!/usr/bin/env bash
# What tracing costs a served request: LeNet-5 over gRPC with convload,
# convd with no trace file, with one and every level OFF, tracing one
# request in 1000 (Triton's default rate) and every request (the worst
# case), TIMESTAMPS and TIMESTAMPS+TENSORS. Rounds alternate the modes, as
# this machine is noisy; compare medians.
#
#   bench/trace_overhead.sh [ROUNDS=3] [CONCURRENCY=8] [DURATION=4s]
# Prints one line per round and mode: infer/s, p50 and p99 in ms.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
concurrency=${2:-8}
duration=${3:-4s}
bazel build -c opt //server:convd //client:convload >/dev/null 2>&1
source tools/convd_process.sh
trap 'stop_convd >/dev/null 2>&1 || true' EXIT
work=$(mktemp -d)
declare -A flags=(
  [untraced]="--device=cpu"
  [off]="--device=cpu --trace-file=$work/off.json"
  [rate1000]="--device=cpu --trace-file=$work/r1000.json --trace-level=TIMESTAMPS --trace-rate=1000 --trace-log-frequency=100"
  [rate1]="--device=cpu --trace-file=$work/r1.json --trace-level=TIMESTAMPS --trace-rate=1 --trace-log-frequency=1000"
  [rate1_tensors]="--device=cpu --trace-file=$work/r1t.json --trace-level=TIMESTAMPS,TENSORS --trace-rate=1 --trace-log-frequency=1000"
)
printf '%-6s %-14s %10s %8s %8s\n' round mode infer/s p50_ms p99_ms
for round in $(seq "$rounds"); do
  for mode in untraced off rate1000 rate1 rate1_tensors; do
    # shellcheck disable=SC2086
    start_convd models ${flags[$mode]}
    convload_step "$(printf '%-6s %-14s' "$round" "$mode")" lenet5 127.0.0.1 "$concurrency" \
      "$duration"
    stop_convd
  done
done
rm -rf "$work"
