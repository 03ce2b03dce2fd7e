#!/usr/bin/env python3
"""Renders a bench JSON (mxgemm-bench --mode gemm|all) and, optionally, the same run's peers.json as the Markdown
table of the README's Performance section, so that no number there is typed by hand.

  python3 scripts/results_table.py bench/results/<file>.json [--peers bench/results/<peers>.json]
  python3 scripts/results_table.py --deepgemm bench/results/<python-bench>.json

The second form renders a Python-bench JSON (python -m mxgemm.bench run with DeepGEMM importable) as the table of
mxgemm against DeepGEMM measured in the same process (profiler kernel time, L2 flushed, interleaved rounds).

Columns: the floor (max(FLOPs / 1979 TFLOP/s, fewest bytes / 3.0 TB/s)); mxgemm and cuBLASLt (BF16 out, same
1x128/128x128 recipe) as kernel time per call from a CUDA-graph replay on cold operand sets (no per-call event
overhead), and as event-timed single calls; mxgemm vs cuBLASLt from the graph times; mxgemm's standalone
quantizer (event-timed); the fused speedup over cuBLASLt + quantizer from event times on both sides; the PEERS.md target and DeepGEMM's PEERS.md time (measured there
by the CEO, not in this run) for the mxfp8 row; and, when the bench recorded it, mxgemm per call in the same graph
with programmatic dependent launch (each call may overlap the previous one's tail: a chain's view, not comparable
with single-kernel profiler times).
"""
import argparse
import json

# PEERS.md (dense): target for fused mxfp8 out, DeepGEMM BF16-out time. Targets, not measurements of this run.
PEERS_MD = {
    (1, 7168, 2048): (6.4, 9.8), (128, 7168, 2048): (6.9, 10.6), (256, 7168, 2048): (7.4, 11.7),
    (128, 4096, 7168): (13.4, 17.5), (256, 4096, 7168): (14.0, 21.2), (4096, 7168, 2048): (89, 93.8),
    (4096, 4096, 7168): (160, 168.2), (8192, 7168, 2048): (173, 182.6),
}


def fmt(v, nd=1):
    return "-" if v is None else f"{v:.{nd}f}"


def deepgemm_table(path):
    d = json.load(open(path))
    print(f"Device: {d.get('device')}, {d.get('date')}, git {d.get('git')}, DeepGEMM {d.get('deepgemm')}; "
          f"command: `{d.get('command')}`\n")
    print("| M×N×K | fused mxfp8 µs | mxgemm bf16 µs | DeepGEMM bf16 µs | fused / DeepGEMM | mxgemm bf16 / DeepGEMM "
          "| target: fused / DeepGEMM (PEERS.md, M >= 4096) | cuBLAS bf16 µs |")
    print("|---|---|---|---|---|---|---|---|")
    for r in d["shapes"]:
        p = r["paths"]
        f, m, g = (p.get(n, {}).get("kernel_us") for n in ("fused", "mxgemm_bf16", "deepgemm_bf16"))
        c = p.get("cublas_bf16", {}).get("kernel_us")
        ratio = lambda a, b: f"{a / b:.2f}" if (a and b) else "-"  # noqa: E731
        print(f"| {r['M']}×{r['N']}×{r['K']} | {fmt(f)} | {fmt(m)} | {fmt(g)} | {ratio(f, g)} | {ratio(m, g)} | "
              f"{'<= 0.95' if r['M'] >= 4096 else ''} | {fmt(c)} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("--peers")
    ap.add_argument("--deepgemm", action="store_true", help="BENCH is a Python-bench JSON with a deepgemm_bf16 path")
    args = ap.parse_args()
    if args.deepgemm:
        deepgemm_table(args.bench)
        return
    d = json.load(open(args.bench))
    rows = [r for r in d["rows"] if r.get("op") == "gemm_nt"]
    has_pdl = any(r.get("graph_pdl_us_per_call") for r in rows)
    print(f"Device: {d.get('device')}, {d.get('date')}, git {d.get('git')}; command: `{d.get('command')}`\n")
    print("| M×N×K | format | floor µs | mxgemm µs (graph) | cuBLASLt µs (graph) | mxgemm µs (events) | cuBLASLt µs (events)"
          " | mxgemm vs cuBLASLt GEMM (graph) | quantize µs | fused vs cuBLASLt+quant (events) | target µs (PEERS.md) | DeepGEMM µs (PEERS.md) | verified |"
          + (" mxgemm µs (graph, PDL chain) |" if has_pdl else ""))
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if has_pdl else ""))
    for r in rows:
        key = (r["M"], r["N"], r["K"])
        peers = r.get("peers", {})
        cub = next((v for k, v in peers.items() if k.startswith("cublaslt") and "+" not in k), None)
        q = peers.get("quantize")
        g = r.get("graph_us_per_call")
        cg = r.get("cublaslt_graph_us_per_call")
        speed = r.get("speedup_vs_cublaslt_plus_quant")  # event times on both sides (like with like)
        gspeed = cg / g if (g and cg) else None
        tgt, dg = PEERS_MD.get(key, (None, None))
        is_mx = r["format"] == "mxfp8"
        print(f"| {r['M']}×{r['N']}×{r['K']} | {r['format']} | {fmt(r.get('floor_us'))} | {fmt(g)} | {fmt(cg)} | "
              f"{fmt(r.get('mxgemm_us'))} | {fmt(cub)} | {fmt(gspeed, 2)}x | {fmt(q)} | {fmt(speed, 2)}x | "
              f"{fmt(tgt) if is_mx else ''} | {fmt(dg) if is_mx else ''} | {'yes' if r.get('verified') else 'no'} |"
              + (f" {fmt(r.get('graph_pdl_us_per_call'))} |" if has_pdl else ""))
    if args.peers:
        p = json.load(open(args.peers))
        print("\nSame-run peers (peers.py, PyTorch profiler kernel times):", json.dumps(
            {k: v for k, v in p.items() if not isinstance(v, (dict, list))})[:600])


if __name__ == "__main__":
    main()
