#!/usr/bin/env bash
# Tile comparison on the device, in ONE bench process so that every tile's measurements are interleaved with the
# others' (the H100 runs at its power cap: timing tiles one process after another favours the first one):
#   bash scripts/gpu_check.sh --no-peers --no-plot [...] ; bash scripts/gpu_tile_sweep.sh TILES SHAPES FORMATS
# TILES: space- or comma-separated tiles, "auto" (the cost model) or BMxBN[xCMxCN[xSK]] (e.g. "256x128 256x128x1x2 128x64x1x1x2");
# SHAPES / FORMATS: mxgemm-bench lists. Writes $OUT/tiles.json (rows "<format>@<tile>"; each row verified against
# the CPU reference unless NO_VERIFY=1) and prints one line per row: shape, format@tile, event and graph times.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="${MXGEMM_BENCH:-$ROOT/build-gpu/mxgemm-bench}"
OUT="${OUT:-$ROOT/build-gpu/out}"
TILES="${1// /,}" SHAPES="$2" FORMATS="$3"
EXTRA=()
[ "${NO_VERIFY:-0}" = 1 ] && EXTRA+=(--no-verify)
rc=0
timeout 400 "$BENCH" --mode gemm --no-ceilings --shapes "$SHAPES" --formats "$FORMATS" --tiles "$TILES" \
  "${EXTRA[@]}" --out "$OUT/tiles.json" > "$OUT/tiles.log" 2>&1 || rc=1
python3 - "$OUT/tiles.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["rows"]:
    print(f'{r["M"]}x{r["N"]}x{r["K"]} {r["format"]:<26} events {r.get("mxgemm_us")} graph {r.get("graph_us_per_call")} '
          f'(spread {r.get("graph_spread")}) cublaslt_graph {r.get("cublaslt_graph_us_per_call")} verified {r.get("verified")}')
PY
exit $rc
