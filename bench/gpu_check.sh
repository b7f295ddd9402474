#!/bin/bash
# Every GPU test and GPU benchmark, in one call on the device machine, with
# a short table at the end. The binaries are built here and carried:
#   make gpu-carry                                  # fills .carry/
#   (device tool) carry: [".carry"], command: bash bench/gpu_check.sh
# Stages (default: all, in this order; name some to run only those):
#   tests     the GPU tests (kernels vs the float64 reference, vs cuDNN and
#             cuBLAS; whole networks vs the CPU; Fashion-MNIST on the GPU)
#   sanitize  compute-sanitizer memcheck and racecheck on the kernel tests
#   gemm      bench/gpu_gemm_bench: our SGEMM vs cuBLAS, FP32, TF32 and FP16
#   conv      bench/gpu_conv_bench: our convolutions vs cuDNN, per layer
#   e2e       bench/e2e_vs_pytorch.py: whole networks vs PyTorch + cuDNN;
#             then AlexNet's per-layer times under AUTO (convrun)
#   served    bench/served_vs_engine.sh on the GPU: through gRPC vs the engine
#             (throughput, and one LeNet-5 request alone vs the engine)
#   convtc    gpu_conv_bench on tensor cores, TF32 and FP16, vs cuDNN with
#             tensor ops (not in the default set: a third call when time
#             allows; in `quick`, at batch 32)
#   profile   Nsight Compute (ncu), where the machine has it and lets its
#             counters be read, on our SGEMM's kernels in three products:
#             issue slots, throughput, occupancy and why warps stall (not in
#             the default set; in `quick`, last)
# The tests and the sanitizer runs go at once (the tests that fill the
# device's memory or trap a kernel alone after them); the benchmarks one
# at a time. Each stage is bounded (tests 300 s each, sanitize, e2e
# and served 240 s, conv 170 s, gemm 120 s each math), so the worst case of
# all six is over the device tool's 10 minutes a call: run `tests sanitize
# gemm`, then `conv e2e served`, in two calls; or `quick`, all six and
# convtc in one with tighter bounds (below), for a session with one call's
# device time.
# TEST_SECONDS, SANITIZE_SECONDS, GEMM_SECONDS, CONV_SECONDS, CONV_BATCHES,
# E2E_SECONDS, E2E_BATCHES, LAYER_BATCHES, SERVED_SECONDS, SERVED_DURATION,
# CONV_TC_SECONDS, CONV_TC_BATCHES and PROFILE_SECONDS set them. BUDGET_SECONDS (`quick`:
# 500) caps the whole call: each stage gets at most what is left of it, and
# a stage with under 20 s left is skipped (SKIP in the table), so the table
# prints before the device tool's limit cuts the call short.
# Logs and outputs go to $OUT (the device tool brings them back).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
CARRY=${CARRY:-$ROOT/.carry}
# The programs and Debian's libraries they load, unpacked outside the tree.
UNPACKED=/tmp/convd-carry
mkdir -p "$UNPACKED" && tar -C "$UNPACKED" -xJf "$CARRY/programs.tar.xz"
BIN=$UNPACKED/bin
LIBS=$UNPACKED/lib
OUT_DIR=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT_DIR"
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(tests sanitize gemm conv e2e served)
# `quick`: every stage in one call of about 7 minutes, typically (a session
# whose device time is short): tighter bounds and fewer batch sizes. A
# variable the caller sets still wins.
if [ "${stages[*]}" = quick ]; then
  stages=(tests sanitize gemm conv e2e served convtc profile)
  : "${TEST_SECONDS:=200}" "${SANITIZE_SECONDS:=200}" "${CONV_SECONDS:=90}"
  : "${CONV_BATCHES:=1,32}" "${E2E_BATCHES:=1,64}" "${E2E_SECONDS:=100}"
  : "${SERVED_DURATION:=2s}" "${SERVED_SECONDS:=170}" "${GEMM_SECONDS:=60}"
  : "${CONV_TC_SECONDS:=50}" "${CONV_TC_BATCHES:=32}" "${PROFILE_SECONDS:=35}"
  : "${BUDGET_SECONDS:=500}"
fi
summary=()
status=0
# Each result is printed as it comes (a call cut short keeps them) and again
# in the table at the end.
note() {
  local line
  line=$(printf '%-34s %-6s %s' "$1" "$2" "$3")
  summary+=("$line")
  echo "== $line"
  case $2 in FAIL | SKIP) status=1 ;; esac  # a skipped check is not a pass
}

# Our binaries find Debian's libraries in $LIBS, and cuDNN and cuBLAS (the
# peers, opened with dlopen) in the machine's Python packages or CUDA
# toolkit. Only our binaries see this path (python3 keeps its own).
vendor_dirs=$(python3 - <<'EOF' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + ["/usr/local/cuda/lib64"]
found = set()
for root in roots:
    for name in ("libcudnn.so.9", "libcublas.so.13"):
        for path in glob.glob(os.path.join(root, "**", name), recursive=True):
            found.add(os.path.dirname(path))
print(":".join(sorted(found)))
EOF
)
export CONVD_LD_LIBRARY_PATH="$LIBS${vendor_dirs:+:$vendor_dirs}"
run_ours() { LD_LIBRARY_PATH="$CONVD_LD_LIBRARY_PATH" "$@"; }
# Wrappers so that scripts (served_vs_engine.sh, e2e_vs_pytorch.py) start
# our binaries with that path.
WRAP=/tmp/convd-bin
mkdir -p "$WRAP"
for binary in "$BIN"/*; do
  printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec "%s" "$@"\n' "$CONVD_LD_LIBRARY_PATH" "$binary" \
    > "$WRAP/$(basename "$binary")"
  chmod +x "$WRAP/$(basename "$binary")"
done
export CONVD_FASHION_MNIST_DIR=${CONVD_FASHION_MNIST_DIR:-$CARRY/fashion-mnist}

echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not available')"
echo "peer libraries from: ${vendor_dirs:-none found}"
missing=$(for b in "$BIN"/*; do LD_LIBRARY_PATH="$CONVD_LD_LIBRARY_PATH" ldd "$b" | grep 'not found' | sed "s|^|$(basename "$b"): |"; done)
[ -n "$missing" ] && { echo "missing libraries:"; echo "$missing"; }

# bounded SECONDS: SECONDS, or what BUDGET_SECONDS leaves (10 s kept for
# the table) when that is less.
bounded() {
  local left=$(( ${BUDGET_SECONDS:-1000000} - SECONDS - 10 ))
  echo $(( $1 < left ? $1 : left ))
}
# time_for NAME SECONDS: sets STAGE_SECONDS to the bounded time, or notes
# NAME as skipped and fails when under 20 s are left.
time_for() {
  STAGE_SECONDS=$(bounded "$2")
  if [ "$STAGE_SECONDS" -lt 20 ]; then
    note "$1" SKIP "budget of ${BUDGET_SECONDS}s spent"
    return 1
  fi
}

# contains VALUE ITEM...: whether VALUE is one of the ITEMs.
contains() { local item value=$1; shift; for item; do [ "$item" = "$value" ] && return 0; done; return 1; }
has_stage() { contains "$1" "${stages[@]}"; }
elapsed() { echo $((SECONDS - $1))s; }

# The tests and the sanitizer runs check results, not speed: they all run
# at once (each in its own process, each bounded), then the benchmarks run
# one at a time on the otherwise idle device.
jobs_started=()
# start_job NAME SECONDS COMMAND...: runs COMMAND in the background into
# $OUT_DIR/NAME.log, leaving "EXIT_CODE SECONDS_TAKEN" in $OUT_DIR/NAME.rc.
start_job() {
  local name=$1
  time_for "$name" "$2" || return 0
  shift 2
  (start=$SECONDS; run_ours timeout "$STAGE_SECONDS" "$@" > "$OUT_DIR/$name.log" 2>&1
   echo "$? $((SECONDS - start))" > "$OUT_DIR/$name.rc") &
  jobs_started+=($!)
}
SANITIZED_TESTS=(elementwise sgemm sgemm_choice conv pool winograd)
# Tests that run alone, after the others: one fills the device's memory on
# purpose (an out-of-memory load), three make a kernel trap (a fault
# should stay in its own process's context, but no other test need find
# out whether it does).
ALONE_TESTS=(gpu_serving_test device_fault_test device_health_test gpu_fault_test)
if has_stage tests; then
  for test in "$BIN"/*_test; do
    contains "$(basename "$test")" "${ALONE_TESTS[@]}" && continue
    start_job "$(basename "$test")" "${TEST_SECONDS:-300}" "$test" --gtest_brief=1
  done
fi
if has_stage sanitize; then
  # Memcheck: out-of-bounds and misaligned accesses; racecheck: shared-memory
  # races. CPU-bound, so they share the device well.
  SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
  if [ -z "$SANITIZER" ]; then
    note "compute-sanitizer" FAIL "not found"
  else
    for test in "${SANITIZED_TESTS[@]}"; do
      for tool in memcheck racecheck; do
        start_job "$test.$tool" "${SANITIZE_SECONDS:-240}" "$SANITIZER" --tool "$tool" \
          --error-exitcode 1 "$BIN/${test}_test" --gtest_brief=1
      done
    done
  fi
fi
[ ${#jobs_started[@]} -gt 0 ] && wait "${jobs_started[@]}"
if has_stage tests; then
  for name in "${ALONE_TESTS[@]}"; do
    [ -x "$BIN/$name" ] || continue
    jobs_started=()
    start_job "$name" "${TEST_SECONDS:-300}" "$BIN/$name" --gtest_brief=1
    wait "${jobs_started[@]}"
  done
fi

if has_stage tests; then
  for test in "$BIN"/*_test; do
    name=$(basename "$test")
    log="$OUT_DIR/$name.log"
    [ -f "$OUT_DIR/$name.rc" ] || continue  # skipped: out of budget
    read -r rc taken < "$OUT_DIR/$name.rc"
    if [ "$rc" -eq 0 ]; then
      skipped=$(grep -c '^\[  SKIPPED \]' "$log")
      passed=$(grep -oE '\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
      note "$name" "$([ "$skipped" -gt 0 ] && echo 'PASS*' || echo PASS)" \
        "passed $passed, skipped lines $skipped, ${taken}s"
    else
      note "$name" FAIL "exit $rc after ${taken}s, see $name.log"
      grep -E 'Failure|Expected|Which is|error|rror:' "$log" | head -8 | sed 's/^/    /'
    fi
  done
fi
if has_stage sanitize && [ -n "${SANITIZER:-}" ]; then
  for test in "${SANITIZED_TESTS[@]}"; do
    for tool in memcheck racecheck; do
      [ -f "$OUT_DIR/$test.$tool.rc" ] || continue  # skipped: out of budget
      read -r rc taken < "$OUT_DIR/$test.$tool.rc"
      line=$(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT_DIR/$test.$tool.log")
      case $rc in
        0) note "${test}_test $tool" CLEAN "$line, ${taken}s" ;;
        124) note "${test}_test $tool" FAIL "timed out after ${taken}s" ;;
        *) note "${test}_test $tool" FAIL "exit $rc: $line"
           grep -m5 -E 'Invalid|Race|hazard|ERROR' "$OUT_DIR/$test.$tool.log" | sed 's/^/    /' ;;
      esac
    done
  done
fi

# bench_stage NAME OUTPUT PATTERN SECONDS COMMAND...: runs a benchmark
# into $OUT_DIR/OUTPUT for at most SECONDS (bounded), notes the first line
# matching PATTERN, and prints it all. COMMAND runs as is: our binaries
# through their wrappers in $WRAP.
bench_stage() {
  local name=$1 output=$OUT_DIR/$2 pattern=$3 start=$SECONDS rc=0
  time_for "$name" "$4" || return 0
  shift 4
  timeout "$STAGE_SECONDS" "$@" > "$output" 2>&1 || rc=$?
  case $rc in
    0) note "$name" OK "$(grep -m1 -e "$pattern" "$output"), $(elapsed "$start")" ;;
    124) note "$name" FAIL "timed out after ${STAGE_SECONDS}s, see $(basename "$output")" ;;
    *) note "$name" FAIL "exit $rc, see $(basename "$output")" ;;
  esac
  cat "$output"
}

gemm_seconds=${GEMM_SECONDS:-120}
has_stage gemm && bench_stage gpu_gemm_bench gpu_gemm_bench.md geomean "$gemm_seconds" \
  "$WRAP/gpu_gemm_bench"
for math in tf32 fp16; do
  has_stage gemm && bench_stage "gpu_gemm_bench $math" "gpu_gemm_bench_$math.md" geomean \
    "$gemm_seconds" "$WRAP/gpu_gemm_bench" --math="$math"
done
# The conv benchmark stops starting layers at --max_seconds and then prints
# its table: three quarters of its bound leave time for the row under way.
conv_seconds=${CONV_SECONDS:-170}
has_stage conv && bench_stage gpu_conv_bench gpu_conv_bench.md 'geomean vs' "$conv_seconds" \
  "$WRAP/gpu_conv_bench" --max_seconds="$(( $(bounded "$conv_seconds") * 3 / 4 ))" \
  --batches="${CONV_BATCHES:-1,8,32,128}" --csv="$OUT_DIR/gpu_conv_bench.csv"
has_stage e2e && bench_stage e2e_vs_pytorch e2e_vs_pytorch.md geomean "${E2E_SECONDS:-240}" \
  python3 bench/e2e_vs_pytorch.py --convrun "$WRAP/convrun" --batches "${E2E_BATCHES:-1,8,64,256}"
# Where a pass's time goes: AlexNet's layers under AUTO, at batch 1 and
# 64 (each layer timed by events in an eager pass; the heuristic's pick at
# that batch named).
for batch in ${LAYER_BATCHES:-1 64}; do
  has_stage e2e && bench_stage "alexnet layers, batch $batch" "alexnet_layers_b$batch.md" \
    '^total' 40 "$WRAP/convrun" models/alexnet --device cuda --algo auto --batch "$batch" \
    --repeat 20
done
has_stage served && bench_stage served_vs_engine served_vs_engine.md '^| lenet5 | 1 ' \
  "${SERVED_SECONDS:-240}" env CONVD_BIN="$WRAP" DEVICE=cuda PYTHON=python3 \
  bash bench/served_vs_engine.sh "${SERVED_DURATION:-3s}"
# After the others, so that in `quick` it takes only what they left (the
# profile, after it, least of all).
conv_tc_seconds=${CONV_TC_SECONDS:-120}
for math in tf32 fp16; do
  has_stage convtc && bench_stage "gpu_conv_bench $math" "gpu_conv_bench_$math.md" 'geomean vs' \
    "$conv_tc_seconds" "$WRAP/gpu_conv_bench" --math="$math" \
    --max_seconds="$(( $(bounded "$conv_tc_seconds") * 3 / 4 ))" \
    --batches="${CONV_TC_BATCHES:-8,32}" --csv="$OUT_DIR/gpu_conv_bench_$math.csv"
done

# Where the SGEMM's cycles go, read off the hardware's counters: the FP32
# kernel issues 86% FFMA yet reached 63% of peak (GPU_NOTES entry 22), so
# the instructions are not what is missing; the stall reasons say what is.
# One launch of each product's kernel is profiled (the third it starts:
# past the warm-up), the rest run as usual. PRODUCT|KERNEL[|MATH]: the
# 4096^3 square on both the register-staged kernel and the cp.async one
# (entry 23), Winograd's short-K products, fc6 at batch 1 (its small-m
# kernel), and the square on the tensor-core kernel in TF32 (entry 26).
PROFILED_PRODUCTS=("square 4096|SgemmKernel" "square 4096|SgemmPipelinedKernel"
                   "winograd f43 alexnet.conv3 batch 32|SgemmKernel"
                   "alexnet fc6 batch 1|SmallMKernel"
                   "square 4096|SgemmTensorKernel|tf32")
if has_stage profile; then
  NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /usr/local/cuda-*/bin/ncu \
        /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  if [ -z "$NCU" ]; then
    note "ncu profile" N/A "ncu not on this machine"
  else
    for profiled in "${PROFILED_PRODUCTS[@]}"; do
      IFS='|' read -r product kernel math <<< "$profiled"
      math=${math:-fp32}
      time_for "ncu: $product" "${PROFILE_SECONDS:-60}" || continue
      log="$OUT_DIR/ncu_$(echo "$product $kernel" | tr -c 'a-zA-Z0-9\n' '_').txt"
      start=$SECONDS
      timeout "$STAGE_SECONDS" "$NCU" --target-processes all \
        --kernel-name "regex:$kernel" --launch-skip 2 --launch-count 1 \
        --section SpeedOfLight --section Occupancy --section LaunchStats \
        --section SchedulerStats --section WarpStateStats --section MemoryWorkloadAnalysis \
        --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio' \
        "$WRAP/gpu_gemm_bench" --only="$product" --tile_sweep=false --math="$math" \
        > "$log" 2>&1
      rc=$?
      if grep -q ERR_NVGPUCTRPERM "$log"; then
        note "ncu profile" N/A "counters not permitted here (ERR_NVGPUCTRPERM)"
        break
      fi
      if [ "$rc" -eq 0 ] && grep -q 'Warp Cycles Per Issued Instruction' "$log"; then
        note "ncu: $product, $kernel" OK "$(grep -m1 -oE 'Issue Slots Busy +%? +[0-9.]+' "$log" \
          | tr -s ' '), $(elapsed "$start")"
      else
        note "ncu: $product, $kernel" FAIL "exit $rc, see $(basename "$log")"
      fi
      grep -E 'Kernel|Duration|Throughput|Issue Slots Busy|Achieved Occupancy|Registers Per|Warp Cycles Per Issued|Stall|stalled|Bank' \
        "$log" | head -60
    done
  fi
fi

echo
printf '%-34s %-6s %s\n' check result detail
printf '%s\n' "${summary[@]}"
exit $status
