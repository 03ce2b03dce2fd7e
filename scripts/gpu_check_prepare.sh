#!/usr/bin/env bash
# Run HERE (the development machine) before a device call of scripts/gpu_check.sh. It fills the git-ignored
# .deps/ with what the device machine lacks, because only the repository travels there (no ../shared, no .git, no
# installed GoogleTest):
#   .deps/googletest/    GoogleTest sources (from /usr/src/googletest, or $GTEST_SRC), built by the tests' CMake
#   .deps/peers/peers.py the torch/Triton peers script of ../shared/peers/ (run by gpu_check.sh in the same call)
#   .deps/git-rev        `git rev-parse --short HEAD` (+ "-dirty"), the "git" field of the bench JSON
# Then call the device tool with carry [".deps"] and the command `bash scripts/gpu_check.sh [flags]`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

GTEST_SRC="${GTEST_SRC:-/usr/src/googletest}"
SHARED="${MXGEMM_SHARED_DIR:-$ROOT/../shared}"

mkdir -p .deps/peers
if [ ! -f .deps/googletest/CMakeLists.txt ]; then
  if [ -f "$GTEST_SRC/CMakeLists.txt" ]; then
    cp -r "$GTEST_SRC" .deps/googletest
  else
    echo "gpu_check_prepare: no GoogleTest sources at $GTEST_SRC (set GTEST_SRC); GPU tests will not build" >&2
  fi
fi
if [ -f "$SHARED/peers/peers.py" ]; then
  cp "$SHARED/peers/peers.py" .deps/peers/peers.py
else
  echo "gpu_check_prepare: $SHARED/peers/peers.py not found; gpu_check.sh will skip the torch peers" >&2
fi
rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$rev" != unknown ] && ! git diff --quiet HEAD -- 2>/dev/null; then rev="$rev-dirty"; fi
echo "$rev" > .deps/git-rev
echo "gpu_check_prepare: .deps ready ($(du -sh .deps | cut -f1), git $rev); carry [\".deps\"] in the device call"
