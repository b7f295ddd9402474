#!/bin/bash
# Serves the same endpoint with each HTTP library and loads it with wrk
# (Debian's wrk), at 1, 16, 64 and 256 kept-alive connections; prints
# requests/s and latency percentiles. Usage: bench/http_library_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk > /dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
bazel build -c opt //bench:http_library_bench > /dev/null 2>&1
binary=bazel-bin/bench/http_library_bench
printf "%-8s %7s %6s %12s %9s %9s\n" library threads conns requests/s p50 p99
for setup in "beast 2" "httplib 2" "httplib 64"; do
  read -r library server_threads <<< "$setup"
  port=$((18100 + RANDOM % 500))
  "$binary" "$library" "$port" "$server_threads" & pid=$!
  sleep 1
  for connections in 1 16 64 256; do
    threads=$(( connections < 2 ? 1 : 2 ))
    out=$(wrk -t"$threads" -c"$connections" -d8s --latency "http://127.0.0.1:$port/v2" 2>&1)
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Socket errors|Non-2xx/ {print}' | tr '\n' ' ')
    printf "%-8s %7d %6d %12s %9s %9s %s\n" "$library" "$server_threads" "$connections" "$rps" \
      "$p50" "$p99" "$errors"
  done
  kill "$pid"; wait "$pid" 2> /dev/null || true
done
