#!/usr/bin/env python3
"""mxgemm-bench JSON -> PNG bar chart (matplotlib, headless).

    python3 scripts/plot_bench.py bench-all.json [more.json ...] [--peers peers.json] [--out chart.png]
                                   [--formats bf16,mxfp8,g128_fp32 | --all-formats]

One panel per op found ("gemm_nt", then the quantize ops of the quantize mode): per shape, bars of the time in µs
(log scale) of mxgemm per output format, of every peer measured in the same run (cuBLASLt, cuBLASLt + quantize),
and, with --peers, the torch/Triton peers of ../shared/peers/peers.py from the same device call; the floor of
PEERS.md (max(FLOPs/1979 TFLOP/s, bytes/3.0 TB/s)) is a black tick. Rows not run (null) are left out.
"""
import argparse
import json
import math
import os
import sys


def load_rows(paths):
    meta, rows = {}, []
    for p in paths:
        with open(p) as f:
            d = json.load(f)
        if not meta:
            meta = {k: d.get(k) for k in ("device", "date", "git")}
        rows.extend(d.get("rows", []))
    return meta, rows


def shape_key(r):
    return (r.get("M", 0), r.get("N", 0), r.get("K", 0))


def shape_label(k):
    m, n, kk = k
    return f"{m}x{n}x{kk}" if kk else f"{m}x{n}"


def finite(v):
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def torch_peers(path):
    """(M, N, K) -> {series name: µs} from peers.py's peers.json ("normal" list)."""
    out = {}
    if not path or not os.path.exists(path):
        return out
    with open(path) as f:
        d = json.load(f)
    for r in d.get("normal", []):
        k = (r.get("M"), r.get("N"), r.get("K"))
        s = {}
        gemm = [r[x] for x in ("cublas_blockwise_us", "cublas_rowwise_us") if finite(r.get(x))]
        quant = [r[x] for x in ("quant_triton_us", "quant_compiled_us") if finite(r.get(x))]
        if finite(r.get("cublas_blockwise_us")):
            s["torch cuBLAS blockwise (bf16)"] = r["cublas_blockwise_us"]
        if gemm and quant:
            s["torch best GEMM + best quant"] = min(gemm) + min(quant)
        if finite(r.get("compiled_pipeline_graph_us")):
            s["torch.compile pipeline (graph)"] = r["compiled_pipeline_graph_us"]
        out[k] = s
    return out


def series_for_op(rows, op, formats, tpeers):
    """Ordered shapes and {series: {shape: µs}} for one op."""
    shapes, series = [], {}

    def put(name, k, v):
        if finite(v):
            series.setdefault(name, {})[k] = v

    floors = {}
    for r in rows:
        if r.get("op") != op:
            continue
        k = shape_key(r)
        if k not in shapes:
            shapes.append(k)
        fmt = r.get("format", "")
        if finite(r.get("floor_us")):
            floors.setdefault(k, {})[fmt] = r["floor_us"]
        for p, v in (r.get("peers") or {}).items():
            # A peer that does not depend on the format (cuBLASLt bf16) appears once; format-specific ones
            # (quantize, GEMM + quantize) only for the formats plotted.
            if p == "quantize" and op == "gemm_nt":
                continue  # the quantizer alone: in "<peer>+quantize" already
            if "quantize" in p:
                if fmt in formats:
                    put(f"{p} ({fmt})", k, v)
            else:
                put(p, k, v)
        if fmt in formats or op != "gemm_nt":
            put(f"mxgemm {fmt}" if fmt else "mxgemm", k, r.get("mxgemm_us"))
    if op == "gemm_nt":
        for k in shapes:
            for name, v in tpeers.get(k, {}).items():
                put(name, k, v)
    return shapes, series, floors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="+")
    ap.add_argument("--peers", help="peers.json of ../shared/peers/peers.py, same device call")
    ap.add_argument("--out", help="PNG path (default: first JSON with .png)")
    ap.add_argument("--formats", default="bf16,mxfp8,g128_fp32", help="mxgemm formats to draw (gemm_nt)")
    ap.add_argument("--all-formats", action="store_true")
    a = ap.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta, rows = load_rows(a.json)
    formats = sorted({r.get("format") for r in rows}) if a.all_formats else a.formats.split(",")
    tpeers = torch_peers(a.peers)
    ops = [op for op in dict.fromkeys(r.get("op") for r in rows) if op and not op.startswith("ceiling")]
    if not ops:
        print("plot_bench: no rows to plot", file=sys.stderr)
        return 1

    fig, axes = plt.subplots(len(ops), 1, figsize=(max(12, 2.2 * 8), 5.2 * len(ops)), squeeze=False)
    for ax, op in zip(axes[:, 0], ops):
        shapes, series, floors = series_for_op(rows, op, formats, tpeers)
        names = list(series)
        width = 0.84 / max(1, len(names))
        cmap = plt.get_cmap("tab20")
        for i, name in enumerate(names):
            xs = [j + (i - (len(names) - 1) / 2) * width for j, k in enumerate(shapes) if k in series[name]]
            ys = [series[name][k] for k in shapes if k in series[name]]
            hatch = "//" if name.startswith("mxgemm") else None
            ax.bar(xs, ys, width=width, label=name, color=cmap(i % 20), hatch=hatch, edgecolor="black", linewidth=0.3)
        for j, k in enumerate(shapes):
            f = floors.get(k, {})
            v = f.get("mxfp8") or (min(f.values()) if f else None)
            if finite(v):
                ax.hlines(v, j - 0.45, j + 0.45, colors="black", linewidth=2)
        vals = [v for ser in series.values() for v in ser.values()]
        if vals and max(vals) / min(vals) > 8:
            ax.set_yscale("log")
        ax.set_xticks(range(len(shapes)))
        ax.set_xticklabels([shape_label(k) for k in shapes], rotation=20)
        ax.set_ylabel("µs (black tick: floor of the mxfp8 output)")
        ax.set_title(f"{op} on {meta.get('device')} — {meta.get('date')} git {meta.get('git')} (lower is better)")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=3, loc="upper left")
    fig.tight_layout()
    out = a.out or os.path.splitext(a.json[0])[0] + ".png"
    fig.savefig(out, dpi=110)
    print(f"plot_bench: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
