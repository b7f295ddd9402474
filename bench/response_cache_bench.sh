#!/usr/bin/env bash
# What the response cache saves: LeNet-5 and AlexNet at batch 1 over gRPC
# with convload, whose 4 distinct requests repeat (so with the cache on,
# all but the first 4 are hits), against the same models uncached. Rounds
# alternate the two servers, as this machine is noisy; compare medians.
#
#   bench/response_cache_bench.sh [ROUNDS=3] [DURATION=4s]
# Prints one line per round, model, concurrency and mode: infer/s, p50
# and p99 in ms.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
duration=${2:-4s}
bazel build -c opt //server:convd //client:convload >/dev/null 2>&1
source tools/convd_process.sh
trap 'stop_convd >/dev/null 2>&1 || true' EXIT
work=$(mktemp -d)
# The bundled models with the cache enabled: the same files, linked.
for model in lenet5 alexnet; do
  mkdir -p "$work/cached/$model"
  for entry in models/$model/*; do
    [ "$(basename "$entry")" = config.pbtxt ] || ln -s "$PWD/$entry" "$work/cached/$model/"
  done
  { cat "models/$model/config.pbtxt"; echo 'response_cache { enable: true }'; } \
    >"$work/cached/$model/config.pbtxt"
done
printf '%-6s %-8s %-5s %-9s %10s %8s %8s\n' round model conc mode infer/s p50_ms p99_ms
for round in $(seq "$rounds"); do
  for mode in uncached cached; do
    if [ "$mode" = cached ]; then
      start_convd "$work/cached" --device=cpu --cache-config=local,size=67108864
    else
      start_convd models --device=cpu
    fi
    for model in lenet5 alexnet; do
      for concurrency in 1 8; do
        convload_step "$(printf '%-6s %-8s %-5s %-9s' "$round" "$model" "$concurrency" "$mode")" \
          "$model" 127.0.0.1 "$concurrency" "$duration"
      done
    done
    stop_convd
  done
done
rm -rf "$work"
