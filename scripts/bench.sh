#!/usr/bin/env bash
# Build (Release) and run the benchmark: mxgemm-bench "$@". On a machine without an SM90 GPU the bench says so
# and exits non-zero. `./scripts/bench.sh --help` lists its flags.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR="${MXGEMM_BUILD_DIR:-build}"
JOBS="${MXGEMM_JOBS:-2}"

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" -j "$JOBS" --target mxgemm-bench
exec "$BUILD_DIR/mxgemm-bench" "$@"
