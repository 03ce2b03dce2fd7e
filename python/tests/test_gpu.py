"""GPU tests (marked `gpu`: skipped without torch or an SM90 GPU): results vs the CPU reference, dtype variants,
streams, torch.library.opcheck, torch.compile(fullgraph=True) chains, CUDA-graph capture, DLPack with CuPy/JAX."""
import os

import numpy as np
import pytest

import mxgemm
from mxgemm import reference as R

pytestmark = pytest.mark.gpu

torch = pytest.importorskip("torch")

FORMATS = [("mxfp8", "rceil", "compact"), ("mxfp8", "floor", "compact"), ("mxfp8", "rceil", "blocked128x4"),
           ("mxfp8", "floor", "blocked128x4"), ("g128_fp32", "rceil", "compact"), ("g128_ue8m0", "rceil", "compact")]


def cdiv(a, b):
    return -(-a // b)


def operands(M, N, K, seed=0, G=None):
    g = torch.Generator(device="cuda").manual_seed(seed)
    kb = cdiv(K, 128)
    A = torch.randn(M, K, device="cuda", generator=g).to(torch.float8_e4m3fn)
    sfa = mxgemm.get_mn_major_sfa(torch.rand(M, kb, device="cuda", generator=g) + 0.5)
    lead = () if G is None else (G,)
    B = torch.randn(*lead, N, K, device="cuda", generator=g).to(torch.float8_e4m3fn)
    sfb = torch.rand(*lead, cdiv(N, 128), kb, device="cuda", generator=g) + 0.5
    return (A, sfa), (B, sfb)


def ref64(a, b):
    """FP64 reference on the GPU (same math as reference.gemm_nt, for shapes too big for the CPU)."""
    (A, sfa), (B, sfb) = a, b
    K = A.shape[1]
    k = torch.arange(K, device="cuda") // 128
    Ad = A.double() * sfa.double()[:, k]
    Bd = B.double() * sfb.double()[torch.arange(B.shape[0], device="cuda") // 128][:, k]
    return Ad @ Bd.T


def dequant(data, sf, fmt, layout):
    return torch.from_numpy(R.dequantize(data, sf, fmt, layout)).double()


def rel_err(x, ref):
    x, ref = x.double().cpu(), ref.double().cpu()
    return ((x - ref).norm() / ref.norm()).item()


# ---- correctness -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("M,N,K", [(1, 256, 128), (130, 384, 384), (256, 1024, 512), (64, 512, 160)])
def test_gemm_bf16_matches_cpu_reference(M, N, K):
    a, b = operands(M, N, K)
    d = mxgemm.gemm_nt(a, b)
    assert d.dtype == torch.bfloat16 and d.shape == (M, N)
    ref = torch.from_numpy(R.gemm_nt(a, b))
    assert rel_err(d, ref) < 2e-3
    # preallocated variant writes the same bytes
    d2 = torch.empty_like(d)
    mxgemm.fp8_gemm_nt(a, b, d2)
    assert torch.equal(d.view(torch.int16), d2.view(torch.int16))


@pytest.mark.parametrize("fmt,rule,layout", FORMATS)
def test_gemm_quantized_formats(fmt, rule, layout):
    M, N, K = 200, 512, 384
    a, b = operands(M, N, K, seed=1)
    data, sf = mxgemm.gemm_nt(a, b, out_format=fmt, scale_rule=rule, scale_layout=layout)
    assert data.dtype == torch.float8_e4m3fn and data.shape == (M, N)
    ref = torch.from_numpy(R.gemm_nt(a, b))
    err = rel_err(dequant(data, sf, fmt, layout), ref)
    assert err < 0.06, err
    # quantizing the reference (rounded to FP32) gives nearly the same scales (accumulation order differs)
    rq, rs = R.quantize(ref.float().numpy(), fmt, rule, layout)
    got_s = sf.cpu().numpy()
    if fmt == "g128_fp32":
        # amax of the GPU's FP32 accumulator vs of the FP64 result: FP8 wgmma accumulates with a reduced-precision
        # adder between promotions (measured up to 3.6e-4 relative on the H100 here)
        np.testing.assert_allclose(got_s, rs, rtol=2e-3)
    else:
        agree = np.mean(got_s == rs)
        assert agree > 0.97, agree
    # preallocated + the seed's name
    if fmt == "mxfp8":
        d2, s2 = torch.empty_like(data), torch.empty_like(sf)
        mxgemm.fp8_gemm_nt_mxfp8out(a, b, d2, s2, scale_rule=rule, scale_layout=layout)
        assert torch.equal(d2.view(torch.uint8), data.view(torch.uint8)) and torch.equal(s2, sf)


def test_g128_output_feeds_the_next_gemm():
    a, b = operands(256, 512, 256, seed=2)
    _, c = operands(256, 384, 512, seed=3)
    h = mxgemm.gemm_nt(a, b, out_format="g128_fp32")
    assert h[1].shape == (256, 4) and h[1].stride() == (1, 256)
    y = mxgemm.gemm_nt(h, c)
    ref = ref64((h[0], h[1]), c)
    assert rel_err(y, ref) < 2e-3


def test_pdl_chain_matches_serial():
    """A g128 output feeding the next GEMM, both launched with pdl=True back to back on one stream, over alternating
    inputs: every result equals the serial (pdl=False) chain of its parity."""
    a0, b = operands(192, 1024, 640, seed=4)
    a1, _ = operands(192, 1024, 640, seed=5)
    _, c = operands(192, 768, 1024, seed=6)
    h = mxgemm.gemm_nt(a0, b, out_format="g128_fp32")  # preallocated intermediate (data, MN-major scales)
    want = []
    for a in (a0, a1):
        mxgemm.fp8_gemm_nt(a, b, h, out_format="g128_fp32")
        want.append(mxgemm.gemm_nt(h, c).clone())
    assert not torch.equal(want[0], want[1])
    outs = [torch.empty_like(want[0]) for _ in range(6)]
    for i, y in enumerate(outs):
        mxgemm.fp8_gemm_nt((a0, a1)[i % 2], b, h, out_format="g128_fp32", pdl=True)
        mxgemm.fp8_gemm_nt(h, c, y, pdl=True)
    torch.cuda.synchronize()
    for i, y in enumerate(outs):
        assert torch.equal(y, want[i % 2]), i


@pytest.mark.parametrize("fmt,rule,layout", FORMATS)
@pytest.mark.parametrize("columnwise", [False, True])
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_quantize_bit_exact(fmt, rule, layout, columnwise, dtype):
    M, N = 256, 640
    x = (torch.randn(M, N, device="cuda") * torch.logspace(-3, 3, M, device="cuda")[:, None]).to(getattr(torch, dtype))
    data, sf = mxgemm.quantize(x, out_format=fmt, scale_rule=rule, scale_layout=layout, columnwise=columnwise)
    rq, rs = R.quantize(x.float().cpu().numpy(), fmt, rule, layout, columnwise=columnwise)
    assert np.array_equal(data.view(torch.uint8).cpu().numpy(), rq)
    assert np.array_equal(sf.cpu().numpy(), rs)


def test_scale_dtypes_and_byte_views():
    a, b = operands(128, 256, 256, seed=4)
    data, sf = mxgemm.gemm_nt(a, b, out_format="mxfp8")
    d2 = torch.empty(128, 256, dtype=torch.uint8, device="cuda")
    s2 = torch.empty(128, 8, dtype=torch.float8_e8m0fnu, device="cuda")
    mxgemm.fp8_gemm_nt((a[0].view(torch.uint8), a[1]), (b[0].view(torch.uint8), b[1]), (d2, s2))
    assert torch.equal(d2, data.view(torch.uint8)) and torch.equal(s2.view(torch.uint8), sf)


def test_type_and_value_errors_on_gpu():
    a, b = operands(128, 256, 256)
    with pytest.raises(TypeError, match="a: dtype float8_e5m2"):
        mxgemm.gemm_nt((a[0].to(torch.float8_e5m2), a[1]), b)
    with pytest.raises(TypeError, match="d: dtype float16"):
        mxgemm.fp8_gemm_nt(a, b, torch.empty(128, 256, dtype=torch.float16, device="cuda"))
    with pytest.raises(ValueError, match="MN-major"):
        mxgemm.gemm_nt((a[0], a[1].contiguous()), b)
    with pytest.raises(ValueError, match="on cpu"):
        mxgemm.fp8_gemm_nt(a, b, torch.empty(128, 256, dtype=torch.bfloat16))
    with pytest.raises(ValueError, match="K=200"):
        mxgemm.gemm_nt(*operands(128, 256, 200))


def _grouped_or_not_implemented(fn):
    try:
        return fn()
    except NotImplementedError as e:
        assert "not implemented" in str(e)
        pytest.skip(f"grouped kernel not implemented yet: NotImplementedError({e})")


def test_grouped_contiguous():
    G, N, K = 3, 256, 256
    layout = torch.cat([torch.full((128,), g, dtype=torch.int32) for g in (0, -1, 2)]).cuda()
    a, b = operands(384, N, K, seed=5, G=G)
    out = _grouped_or_not_implemented(lambda: mxgemm.m_grouped_gemm_nt_contiguous(a, b, layout, out_format="mxfp8"))
    ref = torch.from_numpy(R.m_grouped_gemm_nt_contiguous(a, b, layout))
    assert rel_err(dequant(*out, "mxfp8", "compact"), ref) < 0.06


def test_grouped_masked():
    G, max_m, N, K = 4, 64, 256, 256
    g = torch.Generator(device="cuda").manual_seed(6)
    A = torch.randn(G, max_m, K, device="cuda", generator=g).to(torch.float8_e4m3fn)
    sfa = (torch.rand(G, 2, max_m, device="cuda", generator=g) + 0.5).transpose(1, 2)
    b = operands(1, N, K, seed=7, G=G)[1]
    mm = torch.tensor([64, 10, 0, 33], dtype=torch.int32, device="cuda")
    d = _grouped_or_not_implemented(lambda: mxgemm.m_grouped_gemm_nt_masked((A, sfa), b, mm, 64))
    ref = torch.from_numpy(R.m_grouped_gemm_nt_masked((A, sfa), b, mm))
    for i, m in enumerate(mm.tolist()):
        if m:
            assert rel_err(d[i, :m], ref[i, :m]) < 2e-3


# ---- streams ---------------------------------------------------------------------------------------------------
def test_current_torch_stream_and_explicit_stream():
    a, b = operands(256, 1024, 1024, seed=8)
    want = mxgemm.gemm_nt(a, b, out_format="mxfp8")
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        got = mxgemm.gemm_nt(a, b, out_format="mxfp8")  # launched on s (the current stream)
    s.synchronize()
    assert torch.equal(got[0].view(torch.uint8), want[0].view(torch.uint8))
    d, sf = torch.empty_like(want[0]), torch.empty_like(want[1])
    s2 = torch.cuda.Stream()
    s2.wait_stream(torch.cuda.current_stream())
    mxgemm.fp8_gemm_nt(a, b, (d, sf), stream=s2.cuda_stream)
    s2.synchronize()
    assert torch.equal(sf, want[1])
    mxgemm.fp8_gemm_nt(a, b, (d, sf), stream=s2)  # a stream object works too
    s2.synchronize()


# ---- torch.library ---------------------------------------------------------------------------------------------
def test_opcheck():
    # e4m3 tensors as their uint8 bytes: opcheck's schema check compares arguments with torch.allclose, which has
    # no float8 kernel. The ops accept both.
    ops = torch.ops.mxgemm
    (A, sfa), (B, sfb) = operands(128, 256, 256, seed=9)
    A, B = A.view(torch.uint8), B.view(torch.uint8)
    x = torch.randn(128, 256, device="cuda", dtype=torch.bfloat16)
    u8 = dict(dtype=torch.uint8, device="cuda")
    cases = [
        (ops.gemm_nt_bf16, (A, sfa, B, sfb)),
        (ops.gemm_nt, (A, sfa, B, sfb, 1, 0, 0)),
        (ops.gemm_nt, (A, sfa, B, sfb, 1, 1, 1)),
        (ops.gemm_nt, (A, sfa, B, sfb, 2, 0, 0)),
        (ops.gemm_nt, (A, sfa, B, sfb, 3, 0, 0)),
        (ops.gemm_nt_bf16_out, (A, sfa, B, sfb, torch.empty(128, 256, dtype=torch.bfloat16, device="cuda"))),
        (ops.gemm_nt_out, (A, sfa, B, sfb, torch.empty(128, 256, **u8), torch.empty(128, 8, **u8), 1, 0, 0)),
        (ops.quantize, (x, 1, 0, 0, False)),
        (ops.quantize, (x, 3, 0, 0, True)),
        (ops.quantize_out, (x, torch.empty(128, 256, **u8), torch.empty(128, 8, **u8), 1, 0, 0, False)),
        (ops.gemm_nt_out, (A, sfa, B, sfb, torch.empty(128, 256, **u8), torch.empty(2, 128, device="cuda"),
                           2, 0, 0)),  # g128 scales in storage form: what compile passes to mutated ops
        (ops.transform_sfa, (torch.rand(130, 3, device="cuda"),)),
        (ops.transform_sfa_out, (torch.rand(130, 3, device="cuda"), torch.empty(3, 132, device="cuda"))),
    ]
    for op, args in cases:
        torch.library.opcheck(op, args)


def test_compile_chain_fullgraph_no_graph_breaks():
    a, b = operands(256, 512, 256, seed=10)
    _, c = operands(256, 384, 512, seed=11)

    def chain(a, b, c):
        h = mxgemm.gemm_nt(a, b, out_format="g128_fp32")       # GEMM -> quantized (1x128 FP32 scales)
        y = mxgemm.gemm_nt(h, c)                                # -> next GEMM, bf16
        q = mxgemm.quantize(y, out_format="mxfp8")              # -> MXFP8
        return y, q

    eager = chain(a, b, c)
    explained = torch._dynamo.explain(chain)(a, b, c)
    assert explained.graph_break_count == 0 and explained.graph_count == 1
    compiled = torch.compile(chain, fullgraph=True)
    got = compiled(a, b, c)
    assert torch.equal(got[0].view(torch.int16), eager[0].view(torch.int16))
    assert torch.equal(got[1][0].view(torch.uint8), eager[1][0].view(torch.uint8))
    assert torch.equal(got[1][1], eager[1][1])


def test_compile_preallocated_outputs():
    a, b = operands(128, 256, 256, seed=12)
    want = mxgemm.gemm_nt(a, b, out_format="mxfp8")

    def f(a, b, d, s):
        mxgemm.fp8_gemm_nt_mxfp8out(a, b, d, s)
        return d.view(torch.uint8).float().sum()

    d, s = torch.empty_like(want[0]), torch.empty_like(want[1])
    torch.compile(f, fullgraph=True)(a, b, d, s)
    assert torch.equal(d.view(torch.uint8), want[0].view(torch.uint8)) and torch.equal(s, want[1])


def test_compile_preallocated_g128_view_output():
    # a mutated MN-major view: compile hands the op its storage (functionalization would compact a clone of the view)
    a, b = operands(130, 256, 256, seed=18)
    want = mxgemm.gemm_nt(a, b, out_format="g128_fp32")

    def f(a, b, d, s):
        mxgemm.fp8_gemm_nt(a, b, (d, s), out_format="g128_fp32")

    d, s = torch.empty_like(want[0]), mxgemm.empty_sfa(130, 2, like=want[0])
    torch.compile(f, fullgraph=True)(a, b, d, s)
    assert torch.equal(d.view(torch.uint8), want[0].view(torch.uint8)) and torch.equal(s, want[1])


def test_compile_reduce_overhead_cudagraphs():
    a, b = operands(128, 512, 256, seed=13)
    f = torch.compile(lambda a, b: mxgemm.gemm_nt(a, b, out_format="mxfp8"), fullgraph=True, mode="reduce-overhead")
    want = mxgemm.gemm_nt(a, b, out_format="mxfp8")
    for _ in range(3):
        got = f(a, b)
    assert torch.equal(got[0].view(torch.uint8), want[0].view(torch.uint8)) and torch.equal(got[1], want[1])


def test_cuda_graph_capture_eager_api():
    a, b = operands(256, 512, 512, seed=14)
    x = torch.randn(256, 512, device="cuda", dtype=torch.bfloat16)
    d, sf = mxgemm.gemm_nt(a, b, out_format="mxfp8")
    qd, qs = mxgemm.quantize(x)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):  # warm-up outside capture
        mxgemm.fp8_gemm_nt(a, b, (d, sf))
        mxgemm.quantize_into(x, qd, qs)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        mxgemm.fp8_gemm_nt(a, b, (d, sf))
        mxgemm.quantize_into(x, qd, qs)
    a2, b2 = operands(256, 512, 512, seed=15)
    a[0].copy_(a2[0]); a[1].copy_(a2[1]); b[0].copy_(b2[0]); b[1].copy_(b2[1])
    x.copy_(torch.randn_like(x))
    g.replay()
    torch.cuda.synchronize()
    want = mxgemm.gemm_nt(a2, b2, out_format="mxfp8")
    assert torch.equal(d.view(torch.uint8), want[0].view(torch.uint8)) and torch.equal(sf, want[1])
    wq = mxgemm.quantize(x)
    assert torch.equal(qd.view(torch.uint8), wq[0].view(torch.uint8)) and torch.equal(qs, wq[1])


# ---- DLPack with other frameworks -----------------------------------------------------------------------------
def test_dlpack_cupy():
    cp = pytest.importorskip("cupy")
    a, b = operands(128, 256, 256, seed=16)
    want = mxgemm.gemm_nt(a, b, out_format="mxfp8")
    want_bf16 = mxgemm.gemm_nt(a, b)
    torch.cuda.synchronize()
    ca = (cp.from_dlpack(a[0].view(torch.uint8)), cp.from_dlpack(a[1]))
    cb = (cp.from_dlpack(b[0].view(torch.uint8)), cp.from_dlpack(b[1]))
    d, sf = mxgemm.gemm_nt(ca, cb, out_format="mxfp8")           # CuPy in, CuPy out (uint8 bytes)
    assert isinstance(d, cp.ndarray) and d.dtype == cp.uint8
    cp.cuda.get_current_stream().synchronize()
    assert np.array_equal(cp.asnumpy(d), want[0].view(torch.uint8).cpu().numpy())
    assert np.array_equal(cp.asnumpy(sf), want[1].cpu().numpy())
    dbf = mxgemm.gemm_nt(ca, cb)                                  # bf16 as uint16 bits
    cp.cuda.get_current_stream().synchronize()
    assert np.array_equal(cp.asnumpy(dbf), want_bf16.view(torch.int16).cpu().numpy().view(np.uint16))
    # round trip back into torch without a copy
    t = torch.from_dlpack(d)
    assert t.data_ptr() == d.data.ptr


def test_dlpack_jax():
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    if not any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("JAX sees no GPU")
    a, b = operands(128, 256, 256, seed=17)
    want = mxgemm.gemm_nt(a, b, out_format="mxfp8")
    torch.cuda.synchronize()
    # JAX arrays are immutable and row-major: A, B, SFB come from JAX (inputs); SFA keeps its MN-major strides,
    # which a JAX array cannot express, so it comes from torch; the outputs are preallocated in torch.
    jA = jnp.asarray(a[0].view(torch.uint8).cpu().numpy())
    jb = (jnp.asarray(b[0].view(torch.uint8).cpu().numpy()), jnp.asarray(b[1].cpu().numpy()))
    jax.block_until_ready((jA, jb))
    d, sf = torch.empty_like(want[0]), torch.empty_like(want[1])
    mxgemm.fp8_gemm_nt((jA, a[1]), jb, (d, sf))
    torch.cuda.synchronize()
    assert torch.equal(d.view(torch.uint8), want[0].view(torch.uint8)) and torch.equal(sf, want[1])
    # and back: the torch result into JAX through DLPack
    back = jax.dlpack.from_dlpack(sf)
    assert np.array_equal(np.asarray(back), want[1].cpu().numpy())
