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
convctl=./bazel-bin/client/convctl
source "$(dirname "$0")/convd_process.sh"
trap 'stop_convd || true' EXIT
start_convd "$repository" || { echo "smoke: convd did not start"; exit 1; }
grpc_port=$CONVD_GRPC_PORT
http_port=$CONVD_HTTP_PORT

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
stop_convd || { echo "smoke: convd did not exit cleanly on SIGTERM"; exit 1; }
echo "smoke: passed (models: $models)"
