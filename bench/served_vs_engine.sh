#!/bin/bash
# What serving costs against the engine alone (tools/convrun --throughput:
# the median wall-clock of a forward pass, host copies included), gRPC on
# loopback with random tensors (client and server share this machine), in
# four tables, the quick ones first:
# 1. the latency of one 1-image request with nothing else in flight;
# 2. what a LeNet-5 or AlexNet request adds to the protocol's own round
#    trip (bench/grpc_floor), with the server's own account of it;
# 3. for each model and request batch size, convload's best throughput
#    over a concurrency sweep, against the engine at the request's batch
#    size and at the batch the dynamic batcher actually ran (its mean,
#    rounded): served / engine at that size is what serving costs on top
#    of the forward passes it runs;
# 4. the latency of large inputs inline against shared memory.
# Usage: bench/served_vs_engine.sh [DURATION]   (after `make build`)
# Environment: DEVICE=cpu|cuda (both sides), CONVD_BIN (a folder holding
# convd, convload and convrun; default bazel-bin's), PYTHON.
set -euo pipefail
duration=${1:-5s}
device=${DEVICE:-cpu}
python=${PYTHON:-/usr/bin/python3}
if [ -n "${CONVD_BIN:-}" ]; then
  CONVD_BINARY=$CONVD_BIN/convd convload=$CONVD_BIN/convload convrun=$CONVD_BIN/convrun
  grpc_floor=$CONVD_BIN/grpc_floor
else
  convload=./bazel-bin/client/convload convrun=./bazel-bin/tools/convrun
  grpc_floor=./bazel-bin/bench/grpc_floor
fi
out=$(mktemp -d)
source "$(dirname "$0")/../tools/convd_process.sh"
trap 'stop_convd || true; rm -rf "$out"' EXIT
start_convd models --device="$device" --allow-client-shm
port=$CONVD_GRPC_PORT
echo "device: $device"

# engine MODEL BATCH RUNS FIELD: FIELD (images_per_second, median_ms) of
# convrun --throughput, the engine alone.
engine() {
  "$convrun" "models/$1" --device "$device" --batch "$2" --repeat "$3" --throughput 2>/dev/null |
    "$python" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$4"
}
engine_rate() { engine "$1" "$2" 21 images_per_second; }
# The engine's median 1-image pass, once per model for the two tables below.
declare -A engine_batch1_ms
for model in lenet5 alexnet; do engine_batch1_ms[$model]=$(engine "$model" 1 101 median_ms); done
# Latency of one request with nothing else in flight: convload at
# concurrency 1 (p50 of the round trip, client included) against the
# engine's median forward pass at that batch (host copies included), with
# a call per request (ModelInfer) and on one stream (ModelStreamInfer). The
# ratio is what one request pays for being served.
echo
echo "| model | batch | gRPC | engine median ms | served p50 ms (concurrency 1) | served p99 ms | server queue ms | served p50 / engine |"
echo "|---|---|---|---|---|---|---|---|"
for model in lenet5 alexnet; do
  engine=${engine_batch1_ms[$model]}
  for call in ModelInfer ModelStreamInfer; do
    streaming=$([ "$call" = ModelStreamInfer ] && echo --streaming || true)
    "$convload" "$model" --url "127.0.0.1:$port" --batch 1 --concurrency 1 $streaming \
      --duration "$duration" --warmup 2s --quiet --json "$out/$model-latency.json" >/dev/null 2>&1
    "$python" -c '
import json, sys
step = json.load(open(sys.argv[1]))["steps"][0]
engine, model, call = float(sys.argv[2]), sys.argv[3], sys.argv[4]
p50, p99 = step["latency_ms"]["p50"], step["latency_ms"]["p99"]
queue = step.get("server_queue_ms", float("nan"))
print(f"| {model} | 1 | {call} | {engine:.3f} | {p50:.3f} | {p99:.3f} | {queue:.3f} | {p50 / engine:.2f}x |")
' "$out/$model-latency.json" "$engine" "$model" "$call"
  done
done

# The protocol's floor: one client alternating ServerLive (nothing to do on
# the server) with a 1-image inference on one connection (bench/grpc_floor),
# per protocol and model. What serving adds over the floor (decoding, the
# batcher's hand-off, the forward pass, encoding) against the engine's
# median forward pass: the ratio is 1 when the round trip costs nothing
# beyond the protocol and the forward pass. The server's own account of
# the same requests: its queue, and the rest of its time outside the
# forward pass (decoding, encoding, hand-offs; AlexNet's input is 600 KB).
echo
echo "| protocol | model | floor p50 ms (ServerLive) | infer p50 ms | engine median ms | infer - floor ms | (infer - floor) / engine | server queue us | server other us |"
echo "|---|---|---|---|---|---|---|---|---|"
# (Not on a stream: ServerLive has no streamed form to be its floor.)
for spec in lenet5:2000 alexnet:200; do
  IFS=: read -r model requests <<<"$spec"
  engine=${engine_batch1_ms[$model]}
  for protocol in grpc http; do
    case $protocol in
      grpc) args=(--url "127.0.0.1:$port") ;;
      http) args=(--url "http://127.0.0.1:$CONVD_HTTP_PORT") ;;
    esac
    "$grpc_floor" --model "$model" --requests "$requests" "${args[@]}" > "$out/floor.json"
    "$python" -c '
import json, sys
f, engine = json.load(open(sys.argv[1])), float(sys.argv[2])
live, infer = f["live_p50_ms"], f["infer_p50_ms"]
extra = infer - live
queue, other = f["server_queue_us"], f["server_other_us"]
print(f"| {sys.argv[3]} | {sys.argv[4]} | {live:.3f} | {infer:.3f} | {engine:.3f} | {extra:.3f} | "
      f"{extra / engine:.2f}x | {queue:.1f} | {other:.1f} |")
' "$out/floor.json" "$engine" "$protocol" "$model"
  done
done

# Throughput: convload's concurrency sweep per model and request batch
# size, the best step against the engine at the request's batch and at the
# batch the server formed. After the two tables above, which take seconds:
# a bounded run (gpu_check.sh quick) cut short keeps them.
echo
echo "| model | request batch | engine at request batch, images/s | served best, images/s | at concurrency | p99 ms | server mean batch | engine at that batch, images/s | served / engine at request batch | served / engine at server batch |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for spec in lenet5:1:1:32:x2 lenet5:8:1:16:x2 alexnet:1:1:8:x2 alexnet:8:1:4:x2; do
  IFS=: read -r model batch first last factor <<<"$spec"
  engine=$(engine_rate "$model" "$batch")
  "$convload" "$model" --url "127.0.0.1:$port" --batch "$batch" \
    --concurrency "$first:$last:$factor" --duration "$duration" --warmup 2s --quiet \
    --json "$out/$model-$batch.json" >/dev/null 2>&1
  best=$("$python" -c '
import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
b = max(steps, key=lambda s: s["images_per_s"])
print(b["images_per_s"], b["concurrency"], b["latency_ms"]["p99"], b.get("server_batch", 1))
' "$out/$model-$batch.json")
  read -r served concurrency p99 server_batch <<<"$best"
  server_batch_int=$("$python" -c "print(max(1, round($server_batch)))")
  engine_at_server=$(engine_rate "$model" "$server_batch_int")
  "$python" -c "
m, b, e, s, c, p, sb, es = '$model', $batch, $engine, $served, $concurrency, $p99, $server_batch, $engine_at_server
print(f'| {m} | {b} | {e:.1f} | {s:.1f} | {c} | {p:.2f} | {sb:.2f} | {es:.1f} | {s / e:.2f}x | {s / es:.2f}x |')"
done

# The input's trip: one client at a time, the tensors in the gRPC request
# or in system shared memory (convload --shared-memory=system), at batch
# sizes where the input is large (AlexNet 8: 4.8 MB; LeNet-5 64: 200 KB).
echo
echo "| model | batch | inline p50 ms | shared memory p50 ms | server compute ms (inline) | shared memory / inline |"
echo "|---|---|---|---|---|---|"
for spec in alexnet:8 lenet5:64; do
  IFS=: read -r model batch <<<"$spec"
  for memory in none system; do
    "$convload" "$model" --url "127.0.0.1:$port" --batch "$batch" --concurrency 1 \
      --shared-memory="$memory" --duration "$duration" --warmup 2s --quiet \
      --json "$out/$model-shm-$memory.json" >/dev/null 2>&1
  done
  "$python" -c '
import json, sys
inline, shm = (json.load(open(f))["steps"][0] for f in sys.argv[1:3])
p50, p50_shm = inline["latency_ms"]["p50"], shm["latency_ms"]["p50"]
compute = inline.get("server_compute_ms", float("nan"))
print(f"| {sys.argv[3]} | {sys.argv[4]} | {p50:.3f} | {p50_shm:.3f} | {compute:.3f} | {p50_shm / p50:.2f}x |")
' "$out/$model-shm-none.json" "$out/$model-shm-system.json" "$model" "$batch"
done

if [ "$device" = cuda ]; then
  # The GPU gauges of /metrics after the runs (memory, NVML's utilisation
  # and power), and what each model holds where.
  "$python" -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$CONVD_METRICS_PORT/metrics').read().decode())" |
    grep -E '^convd_gpu_|^convd_model_memory_bytes' || echo "no convd_gpu_ series in /metrics"
fi
