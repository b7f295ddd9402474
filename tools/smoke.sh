#!/bin/bash
# make smoke: starts convd on the bundled models (loopback, free ports),
# runs convctl against it as a user would (health; metadata and a
# classification of each model's bundled sample images over gRPC and HTTP;
# stats), then stops it with SIGTERM and checks it exited cleanly.
# With a Python that has tritonclient[http] (PYTHON, default .venv's), the
# Python example client/python/classify.py classifies the samples too.
# Usage: tools/smoke.sh [MODEL_REPOSITORY]   (from the repository root, after a build)
set -euo pipefail
repository=${1:-models}
convd=./bazel-bin/server/convd
convctl=./bazel-bin/client/convctl
log=$(mktemp)
pid=
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
}
trap 'stop; rm -f "$log"' EXIT

"$convd" --model-repository="$repository" --grpc-address=127.0.0.1 --grpc-port=0 \
  --http-address=127.0.0.1 --http-port=0 --metrics-port=0 2>"$log" &
pid=$!
for _ in $(seq 600); do
  grep -q "HTTP listening" "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "smoke: convd exited during start-up"; exit 1; }
  sleep 0.1
done
grpc_port=$(sed -n 's/.*gRPC listening on [^ ]*:\([0-9]*\).*/\1/p' "$log")
http_port=$(sed -n 's/.*HTTP listening on [^ ]*:\([0-9]*\).*/\1/p' "$log")
[ -n "$grpc_port" ] && [ -n "$http_port" ] || { cat "$log"; echo "smoke: convd did not start"; exit 1; }

run() { echo "\$ convctl $*"; "$convctl" "$@"; echo; }
grpc=127.0.0.1:$grpc_port
http=http://127.0.0.1:$http_port
run --url "$grpc" health
models=$("$convctl" --url "$grpc" models --json | /usr/bin/python3 -c \
  'import json, sys; print(" ".join(m["name"] for m in json.load(sys.stdin) if m["state"] == "READY"))')
[ -n "$models" ] || { echo "smoke: no model is READY"; exit 1; }
for model in $models; do
  run --url "$grpc" metadata "$model"
  samples=("$repository/$model"/samples/*)
  [ -e "${samples[0]}" ] || { echo "smoke: $model has no samples/ to classify"; exit 1; }
  run --url "$grpc" classify "$model" "${samples[@]}" -k 3
  run --url "$http" classify "$model" "${samples[@]}" -k 3
done
python=${PYTHON:-.venv/bin/python}
if "$python" -c "import tritonclient.http" 2>/dev/null; then
  for model in $models; do
    echo "\$ client/python/classify.py --url 127.0.0.1:$http_port $model ..."
    "$python" client/python/classify.py --url "127.0.0.1:$http_port" -k 2 "$model" \
      "$repository/$model"/samples/*
    echo
  done
fi
run --url "$http" stats
kill -TERM "$pid"
if ! wait "$pid"; then cat "$log"; echo "smoke: convd did not exit cleanly on SIGTERM"; exit 1; fi
pid=
echo "smoke: passed (models: $models)"
