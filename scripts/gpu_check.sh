#!/usr/bin/env bash
# The whole GPU check in ONE device call: configure + build (Release), GPU tests, compute-sanitizer, ptxas report,
# mxgemm-bench, the torch/Triton peers (peers.py, same machine, same call) and the chart. Keeps to a time budget
# (default 470 s, under the 8 minutes a call should take) by giving each step what is left, and to <= 8 files in
# $OUT, 0 folders deep.
#
# Here, first:   bash scripts/gpu_check_prepare.sh      (fills the git-ignored .deps/: GoogleTest, peers.py, git rev)
# Device call:   run(command="bash scripts/gpu_check.sh", carry=[".deps"], timeout_s=600)
#
# Flags:
#   --tests-only          build and run mxgemm_gpu_tests (and the ptxas check) only
#   --bench-only          build and run mxgemm-bench (+ peers + plot) only
#   --filter F            gtest filter for mxgemm_gpu_tests (e.g. 'Gemm*:-*Slow*')
#   --bench-args "..."    extra flags for mxgemm-bench (e.g. "--mode gemm --formats bf16,mxfp8 --iters 50")
#   --no-peers            skip .deps/peers/peers.py
#   --no-plot             skip scripts/plot_bench.py
#   --no-read             skip mxgemm-bench --mode read (and its ncu pass)
#   --no-sanitize         skip compute-sanitizer (memcheck, racecheck, synccheck on two exact tests, ~40 s)
#   --bench-bin PATH      run this prebuilt mxgemm-bench (e.g. built here, carried in .deps/bin) instead of building it
#   --jobs N              build parallelism (default 16)
#   --budget S            total seconds (default 470)
#
# $OUT (set on the device machine; defaults to build-gpu/out here) receives:
#   gpu_check.log   everything printed, with the step summary at the end (bench table, peers lines included)
#   build.log       configure + build output
#   gpu_tests.log   mxgemm_gpu_tests output, then the sanitizers' output;  gpu_tests.json  its gtest JSON report
#   bench-<mode>.json  mxgemm-bench rows (bench-read.json: --mode read, the small-M read floor; its kernel
#                   durations under ncu go into gpu_check.log);  peers.json  peers.py results;  bench.png  the chart
# Exit status: 0 when every step that ran passed, else 1 (the summary names the failing steps).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

DO_TESTS=1 DO_BENCH=1 DO_PEERS=1 DO_PLOT=1 DO_READ=1 DO_SANITIZE=1
FILTER="" BENCH_ARGS="" JOBS=16 BUDGET=470 BENCH_BIN=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tests-only) DO_BENCH=0; DO_PEERS=0; DO_PLOT=0 ;;
    --bench-only) DO_TESTS=0 ;;
    --no-read) DO_READ=0 ;;
    --no-sanitize) DO_SANITIZE=0 ;;
    --filter) FILTER="$2"; shift ;;
    --bench-args) BENCH_ARGS="$2"; shift ;;
    --bench-bin) BENCH_BIN="$2"; shift ;;
    --no-peers) DO_PEERS=0 ;;
    --no-plot) DO_PLOT=0 ;;
    --jobs) JOBS="$2"; shift ;;
    --budget) BUDGET="$2"; shift ;;
    -h|--help) sed -n '2,29p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "gpu_check: unknown flag $1" >&2; exit 2 ;;
  esac
  shift
done

BUILD="${MXGEMM_BUILD_DIR:-$ROOT/build-gpu}"
export OUT="${OUT:-$BUILD/out}"
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1
TEE_PID=$!

START=$SECONDS
# A bench binary built elsewhere finds the CUDA 13 runtime and cuBLASLt of the toolkit.
[ -d /usr/local/cuda/lib64 ] && export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
SUMMARY=()
FAILED=0
left() { echo $(( BUDGET - (SECONDS - START) )); }
# Seconds a step may use: what is left minus what later steps keep in reserve, at least $2 (when left allows).
share() {
  local l; l=$(left)
  local s=$(( l - $1 ))
  [ "$s" -lt "$2" ] && s=$2
  [ "$s" -gt "$l" ] && s=$l
  [ "$s" -lt 1 ] && s=1
  echo "$s"
}
step() { echo; echo "=== [$(( SECONDS - START ))s] $*"; }
note() { SUMMARY+=("$1"); }
fail() { SUMMARY+=("FAIL: $1"); FAILED=1; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1 || true
nvcc --version 2>&1 | tail -1
cmake --version 2>&1 | head -1
echo "OUT=$OUT BUILD=$BUILD budget=${BUDGET}s jobs=$JOBS"

# ---- configure + build ---------------------------------------------------------------------------------------------
step "configure"
REV="$(cat .deps/git-rev 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown)"
CFG=(-S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DMXGEMM_GIT_REV="$REV")
command -v ninja >/dev/null 2>&1 && [ ! -f "$BUILD/Makefile" ] && CFG+=(-G Ninja)
TARGETS=()
if [ "$DO_TESTS" = 1 ]; then
  if [ -f .deps/googletest/CMakeLists.txt ]; then
    CFG+=(-DMXGEMM_BUILD_TESTS=ON -DMXGEMM_GTEST_SOURCE_DIR="$ROOT/.deps/googletest")
  else
    echo "no .deps/googletest (run scripts/gpu_check_prepare.sh here and carry .deps); trying an installed GTest"
    CFG+=(-DMXGEMM_BUILD_TESTS=ON)
  fi
  TARGETS+=(mxgemm_gpu_tests)
else
  CFG+=(-DMXGEMM_BUILD_TESTS=OFF)
fi
[ "$DO_BENCH" = 1 ] && [ -z "$BENCH_BIN" ] && TARGETS+=(mxgemm-bench)
BUILD_OK=0      # configure worked
TESTS_BUILT=0 BENCH_BUILT=0
BENCH_EXE="$BUILD/mxgemm-bench"
if [ -n "$BENCH_BIN" ] && [ "$DO_BENCH" = 1 ]; then
  if [ -x "$BENCH_BIN" ]; then BENCH_EXE="$BENCH_BIN"; BENCH_BUILT=1; note "bench: prebuilt $BENCH_BIN"
  else fail "--bench-bin $BENCH_BIN: not an executable"; fi
fi
if [ ${#TARGETS[@]} -eq 0 ]; then
  note "configure/build: skipped (nothing to build)"
elif cmake "${CFG[@]}" > "$OUT/build.log" 2>&1; then
  BUILD_OK=1
  # One target at a time, so that a test that does not compile does not keep the bench from running.
  for t in "${TARGETS[@]}"; do
    step "build $t (-j$JOBS)"
    if timeout "$(share 60 60)" cmake --build "$BUILD" -j "$JOBS" --target "$t" >> "$OUT/build.log" 2>&1; then
      note "build $t: ok ($(( SECONDS - START ))s since start)"
      [ "$t" = mxgemm_gpu_tests ] && TESTS_BUILT=1
      [ "$t" = mxgemm-bench ] && BENCH_BUILT=1
    else
      grep -E "error|Error" "$OUT/build.log" | head -20
      tail -20 "$OUT/build.log"
      fail "build $t (see build.log)"
    fi
  done
  grep -E "warning" "$OUT/build.log" | sort -u | head -20
else
  tail -30 "$OUT/build.log"
  fail "configure (see build.log)"
fi

# ---- GPU tests ---------------------------------------------------------------------------------------------------
if [ "$TESTS_BUILT" = 1 ]; then
  step "mxgemm_gpu_tests ${FILTER:+(filter $FILTER)}"
  reserve=0
  [ "$DO_BENCH" = 1 ] && reserve=$(( reserve + 120 ))
  [ "$DO_PEERS" = 1 ] && reserve=$(( reserve + 90 ))
  T=$(share "$reserve" 60)
  GARGS=(--gtest_output="json:$OUT/gpu_tests.json" --gtest_color=no)
  [ -n "$FILTER" ] && GARGS+=(--gtest_filter="$FILTER")
  timeout "$T" "$BUILD/mxgemm_gpu_tests" "${GARGS[@]}" > "$OUT/gpu_tests.log" 2>&1
  rc=$?
  grep -E "^\[  (FAILED|PASSED|SKIPPED) |tests ran|FAILED TEST" "$OUT/gpu_tests.log" | head -40
  if [ $rc -eq 0 ]; then
    note "gpu tests: $(grep -E '^\[  PASSED  \]' "$OUT/gpu_tests.log" | head -1)"
  elif [ $rc -eq 124 ]; then
    tail -5 "$OUT/gpu_tests.log"
    fail "gpu tests: timed out after ${T}s (budget)"
  else
    tail -15 "$OUT/gpu_tests.log"
    fail "gpu tests: rc=$rc, $(grep -cE '^\[  FAILED  \] [A-Za-z]' "$OUT/gpu_tests.log") failed"
  fi
fi

# ---- sanitizers ----------------------------------------------------------------------------------------------------
# compute-sanitizer memcheck, racecheck and synccheck on the one-tile smoke test (every compiled tile and format) and
# on the persistent test (several tiles per CTA, so every ring stage is reused): ~40 s. Their output is appended to
# gpu_tests.log (the $OUT file count is at its limit); the verdicts go into the summary.
if [ "$TESTS_BUILT" = 1 ] && [ "$DO_SANITIZE" = 1 ]; then
  step "compute-sanitizer"
  CS="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null | head -1)"
  if [ -z "$CS" ]; then
    fail "sanitizers: compute-sanitizer not found"
  else
    san_failed=0
    for t in SmallTileSmoke PersistentTilesPerCtaBitExact; do
      for tool in memcheck racecheck synccheck; do
        echo "=== compute-sanitizer --tool $tool --error-exitcode 9 mxgemm_gpu_tests --gtest_filter=GemmExact.$t" \
          >> "$OUT/gpu_tests.log"
        timeout "$(share 120 20)" "$CS" --tool "$tool" --error-exitcode 9 "$BUILD/mxgemm_gpu_tests" \
          --gtest_filter="GemmExact.$t" --gtest_color=no > "$OUT/sanitizer.tmp" 2>&1
        rc=$?
        cat "$OUT/sanitizer.tmp" >> "$OUT/gpu_tests.log"
        echo "  $t $tool: rc=$rc $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitizer.tmp" | head -1)"
        [ $rc -eq 0 ] || san_failed=1
      done
    done
    rm -f "$OUT/sanitizer.tmp"
    if [ $san_failed = 0 ]; then note "sanitizers: memcheck, racecheck, synccheck clean (smoke + persistent)"
    else fail "sanitizers (see gpu_tests.log)"; fi
  fi
fi

# ---- ptxas report ------------------------------------------------------------------------------------------------
if [ "$BUILD_OK" = 1 ] && [ -f scripts/check_ptxas.sh ]; then
  step "scripts/check_ptxas.sh"
  # Its per-kernel report goes to build.log; its verdict lines here.
  echo "=== scripts/check_ptxas.sh $BUILD" >> "$OUT/build.log"
  MXGEMM_BUILD_DIR="$BUILD" MXGEMM_JOBS="$JOBS" timeout "$(share 150 20)" bash scripts/check_ptxas.sh "$BUILD" >> "$OUT/build.log" 2>&1
  rc=$?
  grep -E "^check_ptxas" "$OUT/build.log" | tail -5
  if [ $rc -eq 0 ]; then note "ptxas check: ok"; else fail "ptxas check (rc=$rc, see build.log)"; fi
fi

# ---- bench ---------------------------------------------------------------------------------------------------------
if [ "$BENCH_BUILT" = 1 ]; then
  step "mxgemm-bench $BENCH_ARGS"
  reserve=15
  [ "$DO_PEERS" = 1 ] && reserve=$(( reserve + 75 ))
  T=$(share "$reserve" 60)
  # shellcheck disable=SC2086  # BENCH_ARGS is a flag list
  timeout "$T" "$BENCH_EXE" $BENCH_ARGS
  rc=$?
  case $rc in
    0) note "bench: ok ($(cd "$OUT" && echo bench-*.json))" ;;
    3) fail "bench: a row failed verification (VERIFY FAILED in the table)" ;;
    124) fail "bench: timed out after ${T}s (budget)" ;;
    *) fail "bench: rc=$rc" ;;
  esac
fi

# ---- small-M read floor: readers of the weight bytes beside the fused GEMM (events), then kernel durations (ncu) --
if [ "$BENCH_BUILT" = 1 ] && [ "$DO_READ" = 1 ]; then
  step "mxgemm-bench --mode read"
  if timeout "$(share 90 40)" "$BENCH_EXE" --mode read --out "$OUT/bench-read.json"; then
    note "read floor: ok (bench-read.json)"
  else
    note "read floor: rc=$?"
  fi
  NCU_BIN=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
  if [ -n "$NCU_BIN" ]; then
    # ncu's own clock control off (the GPU's normal clocks), its default cache flush before each kernel.
    timeout "$(share 75 30)" "$NCU_BIN" --clock-control none -k "regex:read_stream|sm90_fp8_gemm" \
      --metrics gpu__time_duration.sum,dram__bytes_read.sum \
      "$BENCH_EXE" --mode read --iters 1 --warmup 0 --shapes 1x7168x2048,128x4096x7168 --out /tmp/bench-read-ncu.json \
      && note "read floor ncu: ok (kernel durations above in this log)" || note "read floor ncu: rc=$?"
  fi
fi

# ---- peers (torch / Triton), same machine, same call ---------------------------------------------------------------
if [ "$DO_PEERS" = 1 ]; then
  if [ -f .deps/peers/peers.py ]; then
    step "peers.py (torch/Triton peers of PEERS.md)"
    T=$(share 15 30)
    if PYTHONUNBUFFERED=1 timeout "$T" python3 .deps/peers/peers.py; then
      note "peers: ok (peers.json)"
    else
      rc=$?
      # peers.json is saved after each shape: a cut-off run still leaves what it measured.
      note "peers: rc=$rc$([ $rc -eq 124 ] && echo ", cut at ${T}s; partial peers.json kept")"
    fi
  else
    note "peers: skipped (.deps/peers/peers.py absent: run scripts/gpu_check_prepare.sh here and carry .deps)"
  fi
fi

# ---- chart ---------------------------------------------------------------------------------------------------------
if [ "$DO_PLOT" = 1 ] && ls "$OUT"/bench-*.json > /dev/null 2>&1; then
  step "plot"
  PEERS_ARG=()
  [ -f "$OUT/peers.json" ] && PEERS_ARG=(--peers "$OUT/peers.json")
  if timeout 60 python3 scripts/plot_bench.py "$OUT"/bench-*.json "${PEERS_ARG[@]}" --out "$OUT/bench.png"; then
    note "plot: bench.png"
  else
    note "plot: failed (matplotlib missing?)"
  fi
fi

step "summary ($(( SECONDS - START ))s)"
for s in "${SUMMARY[@]}"; do echo "  $s"; done
echo "  files in \$OUT: $(cd "$OUT" && echo *)"
exec 1>&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit $FAILED
