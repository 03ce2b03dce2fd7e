#!/usr/bin/env bash
# Build everything (Release) and run the whole test suite. GPU tests skip themselves on a machine without an
# SM90 GPU, so this is also the CPU-only CI entry point. Extra arguments go to ctest (e.g. -L cpu, -R Rceil).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR="${MXGEMM_BUILD_DIR:-build}"
JOBS="${MXGEMM_JOBS:-2}"

# compile_commands.json lets scripts/check_ptxas.sh recompile kernels with the build's exact flags.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
cmake --build "$BUILD_DIR" -j "$JOBS"
ctest --test-dir "$BUILD_DIR" --output-on-failure "$@"
