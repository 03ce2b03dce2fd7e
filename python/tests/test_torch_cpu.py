"""torch integration without a GPU (skipped without torch): the fast path's dtype handling, and the torch.library
ops with CPU kernels that only validate (torch_ops.DRY_RUN_DEVICE), so that schemas, fake implementations,
opcheck and torch.compile(fullgraph=True) tracing are checked anywhere. The real kernels: test_gpu.py."""
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import mxgemm  # noqa: E402
from mxgemm import torch_ops  # noqa: E402
from mxgemm import validate as V  # noqa: E402


def cdiv(a, b):
    return -(-a // b)


def operands(M, N, K, device="cpu"):
    kb = cdiv(K, 128)
    A = torch.zeros(M, K, dtype=torch.float8_e4m3fn, device=device)
    sfa = mxgemm.empty_sfa(M, kb, like=A).fill_(1)
    B = torch.zeros(N, K, dtype=torch.float8_e4m3fn, device=device)
    sfb = torch.ones(cdiv(N, 128), kb, device=device)
    return (A, sfa), (B, sfb)


@pytest.fixture
def dry_run_cpu():
    """CPU kernels for every mxgemm op that validate (as on an H100) instead of launching."""
    lib = torch.library.Library("mxgemm", "IMPL")
    for name, impl in torch_ops.IMPLS.items():
        lib.impl(name, impl, "CPU")
    torch_ops.DRY_RUN_DEVICE = (9, 0, 132)
    try:
        yield
    finally:
        torch_ops.DRY_RUN_DEVICE = None
        lib._destroy()


def test_torch_fast_path_dtypes():
    assert mxgemm._C._torch_registered()
    a, b = operands(128, 256, 256)
    V.fp8_gemm_nt(a, b, torch.empty(128, 256, dtype=torch.bfloat16))
    V.fp8_gemm_nt((a[0].view(torch.uint8), a[1]), b, (torch.empty(128, 256, dtype=torch.uint8),
                                                      torch.empty(128, 8, dtype=torch.float8_e8m0fnu)))
    with pytest.raises(TypeError, match="a: dtype float8_e5m2"):
        V.fp8_gemm_nt((a[0].to(torch.float8_e5m2), a[1]), b, torch.empty(128, 256, dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="d_sf: dtype float8_e4m3fn"):
        V.fp8_gemm_nt(a, b, (torch.empty(128, 256, dtype=torch.float8_e4m3fn),
                             torch.empty(128, 8, dtype=torch.float8_e4m3fn)))
    with pytest.raises(ValueError, match="SFA must be MN-major"):
        V.fp8_gemm_nt((a[0], a[1].contiguous()), b, torch.empty(128, 256, dtype=torch.bfloat16))
    with pytest.raises(ValueError, match="on cpu"):
        mxgemm.fp8_gemm_nt(a, b, torch.empty(128, 256, dtype=torch.bfloat16))


def test_allocating_shapes_on_cpu_tensors(dry_run_cpu):
    a, b = operands(130, 384, 256)
    d = torch.ops.mxgemm.gemm_nt_bf16(a[0], a[1], b[0], b[1])
    assert d.shape == (130, 384) and d.dtype == torch.bfloat16
    data, storage = torch.ops.mxgemm.gemm_nt(a[0], a[1], b[0], b[1], 2, 0, 0)
    assert storage.shape == (3, 132) and data.dtype == torch.float8_e4m3fn
    data, blocked = torch.ops.mxgemm.gemm_nt(a[0], a[1], b[0], b[1], 1, 0, 1)
    assert blocked.shape == (256, 12) and blocked.dtype == torch.uint8


def test_opcheck_all_ops(dry_run_cpu):
    # e4m3 tensors go in as their uint8 bytes (accepted by every op): opcheck's schema check compares arguments
    # before and after the call with torch.allclose, which has no float8 kernel.
    ops = torch.ops.mxgemm
    (A, sfa), (B, sfb) = operands(128, 256, 256)
    A, B = A.view(torch.uint8), B.view(torch.uint8)
    x = torch.zeros(128, 256, dtype=torch.bfloat16)
    G = 2
    gA = torch.zeros(256, 256, dtype=torch.uint8)
    gsfa = mxgemm.empty_sfa(256, 2, like=gA).fill_(1)
    gB = torch.zeros(G, 256, 256, dtype=torch.uint8)
    gsfb = torch.ones(G, 2, 2)
    lay = torch.zeros(256, dtype=torch.int32)
    mA = torch.zeros(G, 64, 256, dtype=torch.uint8)
    msfa = torch.ones(G, 2, 64).transpose(1, 2)
    mm = torch.full((G,), 10, dtype=torch.int32)
    e4 = torch.uint8
    cases = [
        (ops.gemm_nt_bf16, (A, sfa, B, sfb)),
        (ops.gemm_nt, (A, sfa, B, sfb, 1, 0, 0)),
        (ops.gemm_nt, (A, sfa, B, sfb, 1, 1, 1)),
        (ops.gemm_nt, (A, sfa, B, sfb, 2, 0, 0)),
        (ops.gemm_nt, (A, sfa, B, sfb, 3, 0, 0)),
        (ops.gemm_nt_bf16_out, (A, sfa, B, sfb, torch.empty(128, 256, dtype=torch.bfloat16))),
        (ops.gemm_nt_out, (A, sfa, B, sfb, torch.empty(128, 256, dtype=e4), torch.empty(128, 8, dtype=torch.uint8),
                           1, 0, 0)),
        (ops.m_grouped_contiguous, (gA, gsfa, gB, gsfb, lay, 1, 0, 0)),
        (ops.m_grouped_contiguous_bf16, (gA, gsfa, gB, gsfb, lay)),
        (ops.m_grouped_contiguous_out, (gA, gsfa, gB, gsfb, torch.empty(256, 256, dtype=e4),
                                        torch.empty(256, 8, dtype=torch.uint8), lay, 1, 0, 0)),
        (ops.m_grouped_contiguous_bf16_out, (gA, gsfa, gB, gsfb, torch.empty(256, 256, dtype=torch.bfloat16), lay)),
        (ops.m_grouped_masked, (mA, msfa, gB, gsfb, mm, 16, 1, 0, 0)),
        (ops.m_grouped_masked, (mA, msfa, gB, gsfb, mm, 16, 2, 0, 0)),
        (ops.m_grouped_masked_bf16, (mA, msfa, gB, gsfb, mm, 16)),
        (ops.m_grouped_masked_out, (mA, msfa, gB, gsfb, torch.empty(G, 64, 256, dtype=e4),
                                    torch.empty(G, 64, 8, dtype=torch.uint8), mm, 16, 1, 0, 0)),
        (ops.m_grouped_masked_bf16_out, (mA, msfa, gB, gsfb, torch.empty(G, 64, 256, dtype=torch.bfloat16), mm, 16)),
        (ops.quantize, (x, 1, 0, 0, False)),
        (ops.quantize, (x, 2, 0, 0, True)),
        (ops.quantize_out, (x, torch.empty(128, 256, dtype=e4), torch.empty(128, 8, dtype=torch.uint8), 1, 0, 0,
                            False)),
        (ops.gemm_nt_out, (A, sfa, B, sfb, torch.empty(128, 256, dtype=e4), torch.empty(2, 128), 2, 0, 0)),
        (ops.m_grouped_masked_out, (mA, msfa, gB, gsfb, torch.empty(G, 64, 256, dtype=e4), torch.empty(G, 2, 64),
                                    mm, 16, 2, 0, 0)),
        (ops.quantize_out, (x, torch.empty(256, 128, dtype=e4), torch.empty(1, 256), 2, 0, 0, True)),
        (ops.transform_sfa, (torch.ones(130, 3),)),
        (ops.transform_sfa_out, (torch.ones(130, 3), torch.empty(3, 132))),
    ]
    for op, args in cases:
        torch.library.opcheck(op, args)


def _chain(a, b, c):
    h = mxgemm.gemm_nt(a, b, out_format="g128_fp32")   # GEMM -> quantized, 1x128 FP32 scales (the SFA layout)
    y = mxgemm.gemm_nt(h, c)                            # -> next GEMM, bf16
    q = mxgemm.quantize(y, out_format="mxfp8")          # -> MXFP8
    return y, q, h[1]


def test_compile_chain_traces_into_one_graph(dry_run_cpu):
    a, b = operands(256, 512, 256)
    _, c = operands(256, 384, 512)
    explained = torch._dynamo.explain(_chain)(a, b, c)
    assert explained.graph_break_count == 0 and explained.graph_count == 1
    f = torch.compile(_chain, fullgraph=True, backend="aot_eager")
    y, (qd, qs), h_sf = f(a, b, c)
    assert y.shape == (256, 384) and y.dtype == torch.bfloat16
    assert qd.shape == (256, 384) and qs.shape == (256, 12)
    assert h_sf.shape == (256, 4) and h_sf.stride() == (1, 256)


def test_compile_preallocated_and_grouped(dry_run_cpu):
    a, b = operands(128, 256, 256)

    def f(a, b, d, s):
        mxgemm.fp8_gemm_nt_mxfp8out(a, b, d, s)
        return d

    d, s = torch.empty(128, 256, dtype=torch.float8_e4m3fn), torch.empty(128, 8, dtype=torch.uint8)
    torch.compile(f, fullgraph=True, backend="aot_eager")(a, b, d, s)
    ga, _ = operands(256, 256, 256)
    gb = (torch.zeros(2, 256, 256, dtype=torch.float8_e4m3fn), torch.ones(2, 2, 2))
    lay = torch.zeros(256, dtype=torch.int32)

    def g(a, b, lay):
        return mxgemm.m_grouped_gemm_nt_contiguous(a, b, lay, out_format="mxfp8")

    out = torch.compile(g, fullgraph=True, backend="aot_eager")(ga, gb, lay)
    assert out[0].shape == (256, 256) and out[1].shape == (256, 8)


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
@pytest.mark.parametrize("M", [130, 128])
def test_compile_mutated_mn_major_views(dry_run_cpu, backend, M):
    # g128 scale outputs and SFA buffers are strided views (MN-major); under compile they reach the mutating ops as
    # their storage, and the writes (DRY_FILL in a dry run) land in the caller's views.
    torch._dynamo.reset()
    a, b = operands(M, 256, 256)
    x = torch.zeros(M, 256, dtype=torch.bfloat16)

    def f(a, b, d, s, x, qd, qs, src, dst):
        mxgemm.fp8_gemm_nt(a, b, (d, s), out_format="g128_fp32")
        mxgemm.quantize_into(x, qd, qs, out_format="g128_ue8m0")
        mxgemm.transform_sfa_to_mn_major(src, dst)

    d, s = torch.zeros(M, 256, dtype=torch.float8_e4m3fn), mxgemm.empty_sfa(M, 2, like=x).fill_(0)
    qd, qs = torch.zeros(M, 256, dtype=torch.float8_e4m3fn), mxgemm.empty_sfa(M, 2, like=x).fill_(0)
    src, dst = torch.ones(M, 3), mxgemm.empty_sfa(M, 3, like=x).fill_(0)
    torch.compile(f, fullgraph=True, backend=backend)(a, b, d, s, x, qd, qs, src, dst)
    fill = torch_ops.DRY_FILL
    for t in (s, qs, dst):
        assert t.stride() == (1, -(-M // 4) * 4) and bool((t == fill).all())
    assert bool((d.view(torch.uint8) == fill).all()) and bool((qd.view(torch.uint8) == fill).all())


def test_compile_with_inductor(dry_run_cpu):
    a, b = operands(256, 512, 256)
    _, c = operands(256, 384, 512)
    torch._dynamo.reset()
    y, (qd, qs), h_sf = torch.compile(_chain, fullgraph=True)(a, b, c)
    assert qs.shape == (256, 12) and h_sf.stride() == (1, 256)


def test_import_order_torch_after_mxgemm():
    # torch imported after mxgemm: the integration is set up on the first torch tensor mxgemm sees, or by
    # `import mxgemm.torch_ops`; then compile works.
    code = """
import mxgemm, torch
assert not mxgemm._C._torch_registered()
import mxgemm.torch_ops
assert mxgemm._C._torch_registered() and mxgemm._torch_ops is not None
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    code = """
import numpy as np, mxgemm, torch
from mxgemm import validate as V
a = torch.zeros(128, 256, dtype=torch.float8_e4m3fn)
sfa = torch.ones(2, 128).T
V.fp8_gemm_nt((a, sfa), (torch.zeros(256, 256, dtype=torch.float8_e4m3fn), torch.ones(2, 2)),
              torch.empty(128, 256, dtype=torch.bfloat16))
assert mxgemm._C._torch_registered() and mxgemm._compiling is torch.compiler.is_compiling
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
