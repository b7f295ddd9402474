#!/bin/bash
# Runs every GPU test and GPU benchmark in one call on the device machine
# and prints a short table. The binaries are built here and carried:
#   make gpu-carry                       # builds into .carry/bin
#   (device tool) carry: [".carry"], command: bash bench/gpu_check.sh
# Binaries link our libraries and the CUDA runtime statically; the device
# needs only its driver.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${CARRY_BIN:-.carry/bin}
OUT_DIR=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT_DIR"
# The test set the GPU Fashion-MNIST check reads (carried: no apt there).
export CONVD_FASHION_MNIST_DIR=${CONVD_FASHION_MNIST_DIR:-$PWD/.carry/fashion-mnist}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
  | sed 's/^/gpu: /' || echo "gpu: nvidia-smi not available"

printf '%-40s %-8s %s\n' "check" "result" "detail"
status=0
for test in "$BIN"/*_test; do
  [ -x "$test" ] || continue
  name=$(basename "$test")
  log="$OUT_DIR/$name.log"
  if "$test" --gtest_brief=1 > "$log" 2>&1; then
    skipped=$(grep -c '^\[  SKIPPED \]' "$log" || true)
    passed=$(grep -oE '\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    result=PASS
    [ "$skipped" -gt 0 ] && result="PASS*"
    printf '%-40s %-8s %s\n' "$name" "$result" "passed $passed, skipped lines $skipped"
  else
    status=1
    printf '%-40s %-8s %s\n' "$name" "FAIL" "see $log"
    grep -E 'Failure|Expected|error' "$log" | head -5 | sed 's/^/    /'
  fi
done
# compute-sanitizer (CUDA toolkit) on the kernel tests: memcheck for
# out-of-bounds and misaligned accesses, racecheck for shared-memory races.
# Each bounded; a timeout is reported, not hidden.
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$SANITIZER" ]; then
  for test in "$BIN"/{elementwise,sgemm,conv,pool,winograd}_test; do
    [ -x "$test" ] || continue
    for tool in memcheck racecheck; do
      name="$(basename "$test") $tool"
      log="$OUT_DIR/$(basename "$test").$tool.log"
      if timeout 240 "$SANITIZER" --tool "$tool" --error-exitcode 1 "$test" --gtest_brief=1 \
          > "$log" 2>&1; then
        printf '%-40s %-8s %s\n' "$name" "CLEAN" "$(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log")"
      else
        status=1
        printf '%-40s %-8s %s\n' "$name" "FAIL" "see $log (exit $?)"
        grep -m5 -E 'Invalid|Race|ERROR' "$log" | sed 's/^/    /'
      fi
    done
  done
else
  echo "compute-sanitizer: not found; memcheck/racecheck skipped"
fi

for bench in "$BIN"/*_bench; do
  [ -x "$bench" ] || continue
  echo "== $(basename "$bench")"
  "$bench" 2>&1 | tee "$OUT_DIR/$(basename "$bench").txt"
done
exit $status
