#!/usr/bin/env bash
# One device call for the Python package (issue 6): install the wheel built on the dev machine for the device's
# Python (carried in .whl/, see below), run every Python test (GPU ones included), then the Python bench.
# Everything lands in $OUT. Build the wheel first, on the dev machine, from a clean checkout:
#   cmake -S . -B /tmp/b -G Ninja -DMXGEMM_BUILD_TESTS=OFF -DMXGEMM_BUILD_BENCH=OFF && ninja -C /tmp/b mxgemm
#   python3.12 -m pip wheel --no-build-isolation --no-deps . -w .whl -Ccmake.define.MXGEMM_PYTHON_LIBRARY=/tmp/b/libmxgemm.a
# then: run(command="bash python/gpu_check.sh", carry=[".whl"]).
set -uo pipefail
OUT="${OUT:-/tmp/mxgemm-python-out}"
mkdir -p "$OUT"
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/mxgemm-*.whl || exit 1
export PYTHONPATH=/tmp/site
{ nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv; python3 -c \
  "import torch, mxgemm; print(torch.__version__, torch.version.cuda, mxgemm.device_info())"; } 2>&1 | tee "$OUT/env.txt"
timeout "${PYTEST_TIMEOUT:-200}" python3 -m pytest python/tests -q -p no:cacheprovider -rs \
  --junitxml="$OUT/pytest.xml" 2>&1 | tee "$OUT/pytest.log"
timeout "${BENCH_TIMEOUT:-230}" python3 -m mxgemm.bench --out "$OUT" --name 2026-11-25-h100-python-bench \
  --time-budget "${BENCH_BUDGET:-150}" 2>&1 | tee "$OUT/bench.log"
