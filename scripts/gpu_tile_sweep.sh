#!/usr/bin/env bash
# Tile sweep on the device, after scripts/gpu_check.sh built build-gpu/mxgemm-bench in the same call:
#   bash scripts/gpu_check.sh --no-peers --no-plot [...] ; bash scripts/gpu_tile_sweep.sh TILES SHAPES FORMATS
# TILES: space-separated MXGEMM_FORCE_TILE values (e.g. "128x128 256x128"); SHAPES / FORMATS: mxgemm-bench lists.
# Writes $OUT/tile-<tile>.json per tile (each row verified against the CPU reference unless NO_VERIFY=1) and prints
# one line per row: tile, shape, format, event and graph times, cuBLASLt.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="${MXGEMM_BENCH:-$ROOT/build-gpu/mxgemm-bench}"
OUT="${OUT:-$ROOT/build-gpu/out}"
TILES="$1" SHAPES="$2" FORMATS="$3"
EXTRA=()
[ "${NO_VERIFY:-0}" = 1 ] && EXTRA+=(--no-verify)
rc=0
for t in $TILES; do
  MXGEMM_FORCE_TILE="$t" timeout 120 "$BENCH" --mode gemm --no-ceilings --shapes "$SHAPES" --formats "$FORMATS" \
    "${EXTRA[@]}" --out "$OUT/tile-$t.json" > "$OUT/tile-$t.log" 2>&1 || rc=1
  python3 - "$OUT/tile-$t.json" "$t" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["rows"]:
    p = r.get("peers", {})
    print(f'{sys.argv[2]:>9} {r["M"]}x{r["N"]}x{r["K"]} {r["format"]:<14} events {r.get("mxgemm_us")} graph '
          f'{r.get("graph_us_per_call")} cublaslt {p.get("cublaslt")} cublaslt_graph {r.get("cublaslt_graph_us_per_call")} '
          f'verified {r.get("verified")}')
PY
done
exit $rc
