# Sourced by the scripts that start a convd of their own (tools/smoke.sh,
# bench/served_vs_engine.sh, the bench scripts that compare server modes): start it on free loopback ports, learn the
# ports from its log, stop it with SIGTERM. Bash; run from the repository
# root after a build.
#
#   source tools/convd_process.sh
#   start_convd models            # sets CONVD_PID, CONVD_GRPC_PORT, CONVD_HTTP_PORT,
#                                 # CONVD_METRICS_PORT
#   trap stop_convd EXIT
#   ...
#   stop_convd || echo "convd did not exit cleanly"

CONVD_BINARY=${CONVD_BINARY:-./bazel-bin/server/convd}
CONVD_PID=
CONVD_LOG=

# start_convd REPOSITORY [FLAG...]: returns non-zero, with the log on
# stderr, when convd exits or does not listen within a minute.
start_convd() {
  local repository=$1
  shift
  CONVD_LOG=$(mktemp)
  "$CONVD_BINARY" --model-repository="$repository" --grpc-address=127.0.0.1 --grpc-port=0 \
    --http-address=127.0.0.1 --http-port=0 --metrics-port=0 "$@" 2>"$CONVD_LOG" &
  CONVD_PID=$!
  for _ in $(seq 600); do
    grep -q "HTTP listening" "$CONVD_LOG" && break
    if ! kill -0 "$CONVD_PID" 2>/dev/null; then
      cat "$CONVD_LOG" >&2
      echo "convd exited during start-up" >&2
      CONVD_PID=
      return 1
    fi
    sleep 0.1
  done
  CONVD_GRPC_PORT=$(sed -n 's/.*gRPC listening on [^ ]*:\([0-9]*\).*/\1/p' "$CONVD_LOG")
  CONVD_HTTP_PORT=$(sed -n 's/.*HTTP listening on [^ ]*:\([0-9]*\).*/\1/p' "$CONVD_LOG")
  CONVD_METRICS_PORT=$(sed -n 's|.*metrics at http://[^ ]*:\([0-9]*\)/metrics.*|\1|p' "$CONVD_LOG")
  if [ -z "$CONVD_GRPC_PORT" ] || [ -z "$CONVD_HTTP_PORT" ]; then
    cat "$CONVD_LOG" >&2
    echo "convd did not start" >&2
    return 1
  fi
}

# stop_convd: SIGTERM (convd drains) and its exit status; the log goes
# to stderr when that status is not 0. Safe to call twice.
stop_convd() {
  local status=0
  if [ -n "$CONVD_PID" ]; then
    kill -TERM "$CONVD_PID" 2>/dev/null
    wait "$CONVD_PID" || status=$?
    CONVD_PID=
    [ "$status" -eq 0 ] || cat "$CONVD_LOG" >&2
  fi
  [ -n "$CONVD_LOG" ] && rm -f "$CONVD_LOG"
  CONVD_LOG=
  return "$status"
}

# convload_step LABELS MODEL HOST CONCURRENCY DURATION [CONVLOAD_FLAG...]:
# one closed-loop convload step at batch 1 against the running convd's
# gRPC port on HOST (1 s warm-up), printed as LABELS then infer/s, p50 and
# p99 in ms: the line the bench scripts compare across rounds.
convload_step() {
  local labels=$1 model=$2 host=$3 concurrency=$4 duration=$5
  shift 5
  local report
  report=$(mktemp)
  ./bazel-bin/client/convload "$model" --url "$host:$CONVD_GRPC_PORT" --batch 1 \
    --concurrency "$concurrency" --duration "$duration" --warmup 1s --quiet \
    --json "$report" "$@" >/dev/null 2>&1
  python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))['steps'][0]
print('%s %10.0f %8.3f %8.3f' % (sys.argv[2], s['infer_per_s'], s['latency_ms']['p50'],
      s['latency_ms']['p99']))" "$report" "$labels"
  rm -f "$report"
}
