"""python -m mxgemm.bench: the fused FP8 GEMM with MXFP8 output against the unfused pipelines PyTorch users have.

Paths, all producing MXFP8 (e4m3 + e8m0 RCEIL, compact) from the same FP8 inputs (A 1x128, B 128x128 FP32 scales):
  fused             mxgemm.fp8_gemm_nt with out_format mxfp8 (one kernel)
  mxgemm_unfused    mxgemm GEMM with bf16 out, then mxgemm.quantize
  cublas+mxquant    cuBLAS blockwise FP8 GEMM (torch._scaled_mm, bf16 out), then mxgemm.quantize
  compiled          torch.compile(fullgraph=True) of torch._scaled_mm (bf16 out) + an RCEIL quantizer written in
                    torch ops (the seed's baseline); the GEMM is blockwise when Inductor takes it, else rowwise
and GEMM-only references with bf16 out: mxgemm_bf16, cublas_bf16, and deepgemm_bf16 when the DeepGEMM package
(`import deep_gemm`, built separately; mxgemm never builds or ships it) is importable: deep_gemm.fp8_gemm_nt, the same
recipe, its A scales pre-transformed once into the layout it wants (so only its GEMM kernel runs per call).

Per path and shape (PEERS.md dense shapes):
  kernel_us  sum of device kernel time per call (torch.profiler), L2 flushed (256 MB memset) before each call;
             median over --rounds interleaved rounds (every path once per round, each round starting one path
             further): the H100 runs at its power cap under GEMM load, and a path timed right after an idle phase
             reads faster than one timed after others (bench/results/2026-11-25-h100-gemm-s3-order-rounds*.json)
  graph_us   the path captured in a CUDA graph and replayed back to back (end to end on the GPU, warm L2)
  eager_us   wall time per call of back-to-back eager Python calls (end to end with host overhead)
  rel_err    ||dequant(out) - D||_F / ||D||_F against the FP64 reference D on the GPU
Host overhead: per-call host time of the Python entry points, and eager time over kernel time.
Writes a table to stdout, JSON and a PNG chart (--out).
"""
import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import time

import mxgemm

SHAPES = [(1, 7168, 2048), (128, 7168, 2048), (256, 7168, 2048), (128, 4096, 7168), (256, 4096, 7168),
          (4096, 7168, 2048), (4096, 4096, 7168), (8192, 7168, 2048)]
PATHS = ["fused", "mxgemm_unfused", "cublas+mxquant", "compiled", "mxgemm_bf16", "cublas_bf16", "deepgemm_bf16"]


def cdiv(a, b):
    return -(-a // b)


# ---- timing ----------------------------------------------------------------------------------------------------
def kernel_us(torch, fn, iters, flush=True):
    """Device kernel time per call from the profiler (flush kernels excluded), and the per-kernel split."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    buf = torch.empty(256 * 2**20, dtype=torch.int8, device="cuda") if flush else None
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(iters):
            if flush:
                buf.zero_()
            fn()
        torch.cuda.synchronize()
    per = {}
    for e in prof.events():
        if e.device_type != torch.autograd.DeviceType.CUDA:
            continue
        name = e.name.lower()
        if "fill" in name or "memset" in name:
            continue
        per[e.name] = per.get(e.name, 0.0) + e.device_time
    return sum(per.values()) / iters, {k[:80]: round(v / iters, 2) for k, v in per.items()}


def graph_us(torch, fn, reps=50):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    g.replay()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        g.replay()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) * 1e3 / reps


def eager_us(torch, fn, reps=50):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) * 1e6 / reps


def host_us(torch, fn, reps=200):
    """CPU time per call to enqueue (the GPU kept busy behind it), then e2e per call including the drain."""
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    t_enq = time.perf_counter()
    torch.cuda.synchronize()
    t_end = time.perf_counter()
    return (t_enq - t) * 1e6 / reps, (t_end - t) * 1e6 / reps


# ---- the baseline quantizer in torch ops (FORMAT.md §3 RCEIL, compact) -----------------------------------------
def torch_mxfp8_rceil(torch, x):
    M, N = x.shape
    xf = x.float().reshape(M, N // 32, 32)
    amax = xf.abs().amax(-1)
    s = amax * (1.0 / 448.0)
    bits = s.view(torch.int32)
    exp = (bits >> 23) & 0xFF
    mant = bits & 0x7FFFFF
    byte = torch.where(exp == 0, (mant > 0x400000).to(torch.int32),
                       exp + ((mant != 0) & (exp < 254)).to(torch.int32))
    byte = torch.where(exp == 255, torch.full_like(byte, 254), byte)
    mult = ((254 - byte) << 23).view(torch.float32)
    mult = torch.where(byte == 254, torch.full_like(mult, 2.0 ** -127), mult)
    q = (xf * mult.unsqueeze(-1)).clamp(-448.0, 448.0).to(torch.float8_e4m3fn)
    return q.reshape(M, N), byte.to(torch.uint8)


# ---- accuracy --------------------------------------------------------------------------------------------------
def reference64(torch, A, sfa_rm, B, sfb):
    M, K = A.shape
    N = B.shape[0]
    k = torch.arange(K, device="cuda") // 128
    Ad = A.double() * sfa_rm.double()[:, k]
    Bd = B.double() * sfb.double()[torch.arange(N, device="cuda") // 128][:, k]
    return Ad @ Bd.T


def dequant_mxfp8(torch, q, s):
    M, N = q.shape
    scale = torch.exp2(s.double() - 127).repeat_interleave(32, dim=1)[:, :N]
    return q.double() * scale


def rel_err(torch, x, ref):
    return ((x.double() - ref).norm() / ref.norm()).item()


# ---- one shape -------------------------------------------------------------------------------------------------
def deepgemm_module():
    """The DeepGEMM package if it imports (a peer built outside mxgemm), else None."""
    try:
        import deep_gemm  # noqa: PLC0415
        return deep_gemm
    except Exception:  # noqa: BLE001
        return None


def run_shape(torch, M, N, K, iters, accuracy, compiled_cache, rounds=3):
    kb, nb = cdiv(K, 128), cdiv(N, 128)
    g = torch.Generator(device="cuda").manual_seed(M * 7 + N * 3 + K)
    A = torch.randn(M, K, device="cuda", generator=g).to(torch.float8_e4m3fn)
    B = torch.randn(N, K, device="cuda", generator=g).to(torch.float8_e4m3fn)
    sfa_rm = torch.rand(M, kb, device="cuda", generator=g) + 0.5
    sfb = torch.rand(nb, kb, device="cuda", generator=g) + 0.5
    a, b = (A, mxgemm.get_mn_major_sfa(sfa_rm)), (B, sfb)
    notes = []
    # cuBLAS: M-major [M, kb] scales; M padded to 16 rows (zeros) where it is smaller, as PEERS.md measured it
    Mc = max(M, 16)
    if Mc != M:
        Ac = torch.zeros(Mc, K, device="cuda", dtype=torch.float8_e4m3fn)
        Ac[:M] = A
        sfa_c = torch.ones(Mc, kb, device="cuda")
        sfa_c[:M] = sfa_rm
        notes.append(f"cuBLAS and compiled paths run M={Mc} (rows {M}.. zero) : cuBLAS FP8 needs M >= 16")
    else:
        Ac, sfa_c = A, sfa_rm
    sa_cublas = sfa_c.t().contiguous().t()

    d = torch.empty(M, N, dtype=torch.float8_e4m3fn, device="cuda")
    dsf = torch.empty(M, N // 32, dtype=torch.uint8, device="cuda")
    h = torch.empty(M, N, dtype=torch.bfloat16, device="cuda")
    hq, hs = torch.empty_like(d), torch.empty_like(dsf)
    cq = torch.empty(Mc, N, dtype=torch.float8_e4m3fn, device="cuda")
    cs = torch.empty(Mc, N // 32, dtype=torch.uint8, device="cuda")

    def cublas_gemm():
        return torch._scaled_mm(Ac, B.T, scale_a=sa_cublas, scale_b=sfb.t(), out_dtype=torch.bfloat16)

    cublas_ok = True
    try:
        cublas_gemm()
        torch.cuda.synchronize()
    except Exception as e:  # noqa: BLE001
        cublas_ok = False
        notes.append(f"cuBLAS blockwise _scaled_mm failed: {str(e)[:160]}")

    def fused():
        mxgemm.fp8_gemm_nt(a, b, (d, dsf))

    def unfused():
        mxgemm.fp8_gemm_nt(a, b, h)
        mxgemm.quantize_into(h, hq, hs)

    def cublas_mxquant():
        mxgemm.quantize_into(cublas_gemm(), cq, cs)

    def mx_bf16():
        mxgemm.fp8_gemm_nt(a, b, h)

    # compiled baseline: one graph, GEMM bf16 out + torch-ops quantizer
    comp = None
    comp_kind = None
    sa_row = (torch.rand(Mc, 1, device="cuda", generator=g) + 0.5)
    sb_row = (torch.rand(1, N, device="cuda", generator=g) + 0.5)
    for kind in ("blockwise", "rowwise"):
        if kind == "blockwise" and not cublas_ok:
            continue
        try:
            if kind == "blockwise":
                def base(A, B, sa, sb):
                    y = torch._scaled_mm(A, B.T, scale_a=sa, scale_b=sb.t(), out_dtype=torch.bfloat16)
                    return torch_mxfp8_rceil(torch, y)
                args = (Ac, B, sa_cublas, sfb)
            else:
                def base(A, B, sa, sb):
                    y = torch._scaled_mm(A, B.T, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)
                    return torch_mxfp8_rceil(torch, y)
                args = (Ac, B, sa_row, sb_row)
            cf = torch.compile(base, fullgraph=True, dynamic=False)
            cf(*args)
            torch.cuda.synchronize()
            comp, comp_kind = (lambda cf=cf, args=args: cf(*args)), kind
            break
        except Exception as e:  # noqa: BLE001
            notes.append(f"compiled baseline ({kind}) failed: {type(e).__name__}: {str(e)[:160]}")
    if comp_kind == "rowwise":
        notes.append("compiled baseline uses rowwise scales (blockwise _scaled_mm did not compile)")

    paths = {"fused": fused, "mxgemm_unfused": unfused, "mxgemm_bf16": mx_bf16}
    if cublas_ok:
        paths["cublas+mxquant"] = cublas_mxquant
        paths["cublas_bf16"] = cublas_gemm
    if comp is not None:
        paths["compiled"] = comp
    dg = deepgemm_module()
    h_dg = None
    if dg is not None:
        try:
            sfa_dg = dg.get_mn_major_tma_aligned_tensor(sfa_rm)
            h_dg = torch.empty(M, N, dtype=torch.bfloat16, device="cuda")

            def deepgemm_bf16():
                dg.fp8_gemm_nt((A, sfa_dg), (B, sfb), h_dg, recipe=None, disable_ue8m0_cast=True)

            deepgemm_bf16()  # JIT-compiles its kernel for this shape before any timing
            torch.cuda.synchronize()
            paths["deepgemm_bf16"] = deepgemm_bf16
        except Exception as e:  # noqa: BLE001
            h_dg = None
            notes.append(f"DeepGEMM failed: {type(e).__name__}: {str(e)[:160]}")
    row = {"M": M, "N": N, "K": K, "compiled_gemm_scales": comp_kind, "paths": {}, "notes": notes,
           "rounds": rounds}
    for name in paths:
        row["paths"][name] = {"kernel_us_rounds": []}
    names = list(paths)
    for rnd in range(rounds):
        for j in range(len(names)):
            name = names[(j + rnd) % len(names)]
            r = row["paths"][name]
            if "error" in r:
                continue
            try:
                us, r["kernels"] = kernel_us(torch, paths[name], iters)
                r["kernel_us_rounds"].append(us)
            except Exception as e:  # noqa: BLE001
                r["error"] = f"{type(e).__name__}: {str(e)[:300]}"
    for name, fn in paths.items():
        r = row["paths"][name]
        if r["kernel_us_rounds"]:
            v = sorted(r["kernel_us_rounds"])
            r["kernel_us"] = v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])
        if "error" in r:
            continue
        try:
            r["graph_us"] = graph_us(torch, fn)
            r["eager_us"] = eager_us(torch, fn)
        except Exception as e:  # noqa: BLE001
            r["error"] = f"{type(e).__name__}: {str(e)[:300]}"

    if accuracy:
        ref = reference64(torch, A, sfa_rm, B, sfb)
        fused()
        unfused()
        torch.cuda.synchronize()
        P = row["paths"]
        P["fused"]["rel_err"] = rel_err(torch, dequant_mxfp8(torch, d, dsf), ref)
        P["mxgemm_unfused"]["rel_err"] = rel_err(torch, dequant_mxfp8(torch, hq, hs), ref)
        P["mxgemm_bf16"]["rel_err"] = rel_err(torch, h, ref)
        if cublas_ok:
            y = cublas_gemm()
            mxgemm.quantize_into(y, cq, cs)
            torch.cuda.synchronize()
            P["cublas_bf16"]["rel_err"] = rel_err(torch, y[:M], ref)
            P["cublas+mxquant"]["rel_err"] = rel_err(torch, dequant_mxfp8(torch, cq, cs)[:M], ref)
            tq, ts = torch_mxfp8_rceil(torch, y)
            row["torch_quantizer_matches_mxgemm"] = bool(torch.equal(ts, cs) and
                                                          torch.equal(tq.view(torch.uint8), cq.view(torch.uint8)))
        if h_dg is not None:
            paths["deepgemm_bf16"]()
            torch.cuda.synchronize()
            P["deepgemm_bf16"]["rel_err"] = rel_err(torch, h_dg, ref)
        if comp is not None and comp_kind == "blockwise":
            q, s = comp()
            torch.cuda.synchronize()
            P["compiled"]["rel_err"] = rel_err(torch, dequant_mxfp8(torch, q, s)[:M], ref)
        # how the fused output relates to the unfused one (bf16 rounding in between)
        row["fused_vs_unfused_equal_bytes"] = (d.view(torch.uint8) == hq.view(torch.uint8)).float().mean().item()
        del ref
    flops = 2.0 * M * N * K
    f = row["paths"]["fused"]
    if "kernel_us" in f:
        row["fused_TFLOPs"] = flops / f["kernel_us"] / 1e6
        for other in ("mxgemm_unfused", "cublas+mxquant", "compiled", "cublas_bf16", "deepgemm_bf16"):
            o = row["paths"].get(other, {})
            if "kernel_us" in o:
                row[f"speedup_kernel_vs_{other}"] = o["kernel_us"] / f["kernel_us"]
            if "graph_us" in o and "graph_us" in f:
                row[f"speedup_graph_vs_{other}"] = o["graph_us"] / f["graph_us"]
    m_bf16, d_bf16 = row["paths"].get("mxgemm_bf16", {}), row["paths"].get("deepgemm_bf16", {})
    if "kernel_us" in m_bf16 and "kernel_us" in d_bf16:
        row["speedup_kernel_mxgemm_bf16_vs_deepgemm_bf16"] = d_bf16["kernel_us"] / m_bf16["kernel_us"]
    return row


# ---- host overhead ---------------------------------------------------------------------------------------------
def host_overhead(torch, M=128, N=7168, K=2048):
    kb, nb = cdiv(K, 128), cdiv(N, 128)
    A = torch.randn(M, K, device="cuda").to(torch.float8_e4m3fn)
    B = torch.randn(N, K, device="cuda").to(torch.float8_e4m3fn)
    sfa_rm = torch.rand(M, kb, device="cuda") + 0.5
    sfb = torch.rand(nb, kb, device="cuda") + 0.5
    a, b = (A, mxgemm.get_mn_major_sfa(sfa_rm)), (B, sfb)
    sa = sfa_rm.t().contiguous().t()
    d = torch.empty(M, N, dtype=torch.float8_e4m3fn, device="cuda")
    s = torch.empty(M, N // 32, dtype=torch.uint8, device="cuda")
    h = torch.empty(M, N, dtype=torch.bfloat16, device="cuda")
    x = torch.randn(M, N, device="cuda").to(torch.bfloat16)
    ops = torch.ops.mxgemm
    stream = torch.cuda.current_stream().cuda_stream
    calls = {
        "mxgemm.fp8_gemm_nt mxfp8 (preallocated)": lambda: mxgemm.fp8_gemm_nt(a, b, (d, s)),
        "mxgemm.fp8_gemm_nt mxfp8, stream= given": lambda: mxgemm.fp8_gemm_nt(a, b, (d, s), stream=stream),
        "mxgemm.fp8_gemm_nt bf16 (preallocated)": lambda: mxgemm.fp8_gemm_nt(a, b, h),
        "mxgemm.gemm_nt mxfp8 (allocating)": lambda: mxgemm.gemm_nt(a, b, out_format="mxfp8"),
        "torch.ops.mxgemm.gemm_nt_out (dispatcher)": lambda: ops.gemm_nt_out(A, a[1], B, sfb, d, s, 1, 0, 0),
        "torch.ops.mxgemm.gemm_nt (dispatcher, allocating)": lambda: ops.gemm_nt(A, a[1], B, sfb, 1, 0, 0),
        "mxgemm.quantize_into mxfp8": lambda: mxgemm.quantize_into(x, d, s),
        "mxgemm._C.gemm_nt (extension only)": lambda: mxgemm._C.gemm_nt(A, a[1], B, sfb, d, s, 1, 0, 0, stream),
        "torch._scaled_mm blockwise bf16 (reference point)":
            lambda: torch._scaled_mm(A, B.T, scale_a=sa, scale_b=sfb.t(), out_dtype=torch.bfloat16),
    }
    out = {"shape": [M, N, K], "calls": {}}
    for name, fn in calls.items():
        try:
            k, _ = kernel_us(torch, fn, 20, flush=False)
            enq, e2e = host_us(torch, fn)
            out["calls"][name] = {"kernel_us": k, "host_enqueue_us": enq, "eager_e2e_us": e2e,
                                  "overhead_over_kernel_us": max(0.0, e2e - k)}
        except Exception as e:  # noqa: BLE001
            out["calls"][name] = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
    return out


# ---- output ----------------------------------------------------------------------------------------------------
def fmt(v, nd=1):
    return "-" if v is None else (f"{v:.{nd}f}" if isinstance(v, (int, float)) and math.isfinite(v) else str(v))


def print_table(res):
    print(f"\n{res['device']}  torch {res['torch']}  mxgemm {res['mxgemm']}  ({res['date']})")
    print("kernel_us: profiler device time per call, L2 flushed | graph_us: CUDA-graph replay | "
          "eager_us: Python eager per call | err: rel. Frobenius error vs FP64")
    hdr = f"{'M x N x K':>18} {'path':>15} {'kernel_us':>10} {'graph_us':>9} {'eager_us':>9} {'rel_err':>9}"
    print(hdr)
    print("-" * len(hdr))
    for r in res["shapes"]:
        for i, name in enumerate(PATHS):
            p = r["paths"].get(name)
            if p is None:
                continue
            shape = f"{r['M']}x{r['N']}x{r['K']}" if i == 0 else ""
            if "error" in p:
                print(f"{shape:>18} {name:>15} error: {p['error'][:70]}")
                continue
            print(f"{shape:>18} {name:>15} {fmt(p.get('kernel_us')):>10} {fmt(p.get('graph_us')):>9} "
                  f"{fmt(p.get('eager_us')):>9} {fmt(p.get('rel_err'), 5):>9}")
        sp = [f"{k[len('speedup_kernel_vs_'):]} {v:.2f}x" for k, v in r.items() if k.startswith("speedup_kernel_vs_")]
        if sp:
            print(f"{'':>18} fused kernel speedup vs: " + ", ".join(sp))
        for n in r.get("notes", []):
            print(f"{'':>18} note: {n}")
    ho = res.get("host_overhead")
    if ho:
        print(f"\nhost overhead at M x N x K = {ho['shape']} (warm L2, no flush):")
        print(f"{'call':>52} {'kernel':>8} {'host':>8} {'e2e':>8} {'over':>8}")
        for name, c in ho["calls"].items():
            if "error" in c:
                print(f"{name:>52} error: {c['error'][:60]}")
            else:
                print(f"{name:>52} {c['kernel_us']:8.2f} {c['host_enqueue_us']:8.2f} {c['eager_e2e_us']:8.2f} "
                      f"{c['overhead_over_kernel_us']:8.2f}")


def plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = res["shapes"]
    labels = [f"{r['M']}x{r['N']}x{r['K']}" for r in shapes]
    names = ["fused", "mxgemm_unfused", "cublas+mxquant", "compiled"]
    fig, axes = plt.subplots(2, 1, figsize=(13, 9))
    for ax, key, title in ((axes[0], "kernel_us", "kernel time per call (profiler, L2 flushed)"),
                           (axes[1], "graph_us", "end to end: CUDA-graph replay per call")):
        w = 0.8 / len(names)
        for i, n in enumerate(names):
            vals = [r["paths"].get(n, {}).get(key, float("nan")) for r in shapes]
            xs = [j + (i - (len(names) - 1) / 2) * w for j in range(len(shapes))]
            ax.bar(xs, vals, w, label=n)
        ax.set_yscale("log")
        ax.set_xticks(range(len(shapes)))
        ax.set_xticklabels(labels, rotation=15)
        ax.set_ylabel("µs (log)")
        ax.set_title(f"{title}: FP8 GEMM -> MXFP8, {res['device']}")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default=None, help="M,N,K;M,N,K;... (default: the PEERS.md dense shapes)")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds per shape (median)")
    ap.add_argument("--out", default=".", help="directory for python-bench.json and python-bench.png")
    ap.add_argument("--name", default="python-bench")
    ap.add_argument("--no-accuracy", action="store_true")
    ap.add_argument("--no-host-overhead", action="store_true")
    ap.add_argument("--time-budget", type=float, default=0, help="seconds; skip remaining shapes past it")
    args = ap.parse_args(argv)

    import torch

    if not torch.cuda.is_available() or not mxgemm.is_supported():
        print("mxgemm.bench needs an SM90 GPU and torch with CUDA", file=sys.stderr)
        return 2
    shapes = SHAPES if not args.shapes else [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
    torch._dynamo.config.cache_size_limit = 256
    os.makedirs(args.out, exist_ok=True)
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=os.path.dirname(__file__)).stdout.strip() or None
    except Exception:  # noqa: BLE001
        rev = None
    prop = torch.cuda.get_device_properties(0)
    res = {"device": prop.name, "sms": prop.multi_processor_count, "torch": torch.__version__,
           "mxgemm": mxgemm.__version__, "git": rev,
           "deepgemm": getattr(deepgemm_module(), "__version__", None), "date": datetime.datetime.now().isoformat(timespec="seconds"),
           "command": "python -m mxgemm.bench " + " ".join(argv if argv is not None else sys.argv[1:]),
           "method": __doc__.split("Per path and shape")[1].strip(), "shapes": []}
    json_path = os.path.join(args.out, args.name + ".json")
    t0 = time.time()

    def save():
        with open(json_path, "w") as f:
            json.dump(res, f, indent=1)

    if not args.no_host_overhead:
        res["host_overhead"] = host_overhead(torch)
        save()
    for (M, N, K) in shapes:
        if args.time_budget and time.time() - t0 > args.time_budget:
            res.setdefault("skipped_shapes", []).append([M, N, K])
            continue
        t = time.time()
        r = run_shape(torch, M, N, K, args.iters, not args.no_accuracy, None, args.rounds)
        r["bench_seconds"] = round(time.time() - t, 1)
        res["shapes"].append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "paths"}), flush=True)
        save()
    print_table(res)
    try:
        plot(res, os.path.join(args.out, args.name + ".png"))
    except Exception as e:  # noqa: BLE001
        print(f"plot failed: {e}", file=sys.stderr)
    save()
    print(f"\nwrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
