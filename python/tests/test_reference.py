"""mxgemm.reference (the C++ CPU oracle through the extension) against an independent NumPy implementation of
FORMAT.md (np_ref.py), on small inputs where both must agree exactly. CPU only, no torch."""
import numpy as np
import pytest

import np_ref
from mxgemm import reference as R

RNG = np.random.default_rng(1234)
FINITE_CODES = np.array([c for c in range(256) if c not in (0x7F, 0xFF)], np.uint8)


def codes(*shape, narrow=True):
    """Random e4m3 codes; narrow: exponent field 5..9 (|v| in [2^-2, 2^3)), so that with the power-of-two scales of
    pow2() every product lies on the grid 2^-12 below 2^12 and any sum of up to 2^20 of them is exact in FP64."""
    if not narrow:
        return RNG.choice(FINITE_CODES, size=shape).astype(np.uint8)
    sign = RNG.integers(0, 2, size=shape) << 7
    exp = RNG.integers(5, 10, size=shape) << 3
    return (sign | exp | RNG.integers(0, 8, size=shape)).astype(np.uint8)


def pow2(*shape, lo=-2, hi=3):
    return np.exp2(RNG.integers(lo, hi, size=shape)).astype(np.float32)


def cdiv(a, b):
    return -(-a // b)


def same(a, b):
    """Equal arrays, NaN == NaN."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    both_nan = np.isnan(a) & np.isnan(b) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    bad = ~((a == b) | both_nan)
    assert not bad.any(), f"{bad.sum()} mismatches, first at {np.argwhere(bad)[:5].tolist()}"


def test_e4m3_decode_table():
    same(R.e4m3_to_float32(np.arange(256, dtype=np.uint8)), np_ref.e4m3_decode_table().astype(np.float32))


# ---- GEMMs ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("M,N,K", [(1, 16, 128), (5, 130, 160), (33, 64, 256), (7, 257, 384)])
def test_gemm_exact_with_power_of_two_scales(M, N, K):
    # e4m3 products with power-of-two scales are exact in FP64 and so are their sums: any order gives the same.
    A, B = codes(M, K), codes(N, K)
    sfa, sfb = pow2(M, cdiv(K, 128)), pow2(cdiv(N, 128), cdiv(K, 128))
    same(R.gemm_nt((A, sfa), (B, sfb)), np_ref.gemm_nt(A, sfa, B, sfb))


def test_gemm_general_scales_and_sfa_layouts():
    M, N, K = 9, 140, 300
    A, B = codes(M, K, narrow=False), codes(N, K, narrow=False)
    sfa = RNG.uniform(0.01, 3, (M, 3)).astype(np.float32)
    sfb = RNG.uniform(0.01, 3, (2, 3)).astype(np.float32)
    want = np_ref.gemm_nt(A, sfa, B, sfb)
    got = R.gemm_nt((A, sfa), (B, sfb))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    # the MN-major SFA of the GPU API is the same logical matrix
    same(R.gemm_nt((A, R.sfa_to_mn_major(sfa)), (B, sfb)), got)


def test_grouped_contiguous():
    G, N, K = 3, 130, 256
    layout = np.concatenate([np.full(128, 0), np.full(128, -1), np.full(128, 2), np.full(128, 7)]).astype(np.int32)
    M = layout.size
    A, B = codes(M, K), codes(G, N, K)
    sfa, sfb = pow2(M, 2), pow2(G, 2, 2)
    got = R.m_grouped_gemm_nt_contiguous((A, sfa), (B, sfb), layout)
    want = np.zeros((M, N))
    for g in range(G):
        rows = layout == g
        want[rows] = np_ref.gemm_nt(A[rows], sfa[rows], B[g], sfb[g])
    same(got, want)  # rows of group -1 and of the out-of-range group 7 are zero


def test_grouped_masked():
    G, max_m, N, K = 3, 8, 64, 256
    masked = np.array([3, 8, 0], np.int32)
    A, B = codes(G, max_m, K), codes(G, N, K)
    sfa, sfb = pow2(G, max_m, 2), pow2(G, 1, 2)
    got = R.m_grouped_gemm_nt_masked((A, sfa), (B, sfb), masked)
    for g in range(G):
        m = masked[g]
        same(got[g, :m], np_ref.gemm_nt(A[g, :m], sfa[g, :m], B[g], sfb[g]))
        assert np.isnan(got[g, m:]).all()


# ---- quantizers ----------------------------------------------------------------------------------------------------
def tricky(rows, cols):
    """Random values of many magnitudes plus groups that hit every special case of FORMAT.md §3 (rows 0..8, cut
    to `rows`)."""
    full_rows = rows
    rows = max(rows, 9)
    x = (RNG.standard_normal((rows, cols)) * np.exp2(RNG.integers(-140, 120, size=(rows, 1)))).astype(np.float32)
    x[0, :32] = 0.0                                     # all-zero group
    x[1, :32] = np.float32(448.0) * np.float32(2.0 ** 3)  # amax on a power of two exactly (RCEIL: no round up)
    x[1, 5] = -x[1, 5]
    x[2, :32] = RNG.standard_normal(32).astype(np.float32)
    x[2, 3] = np.nan                                    # NaN element: ignored by amax, written 0x7F
    x[3, :32] = np.float32(1e-45) * RNG.integers(0, 9, 32)  # subnormal amax
    x[4, :32] = np.float32(3.0e38)                       # huge: scale byte near 254
    x[4, 7] = np.float32(3.4e38)
    x[5, :32] = np.nan                                  # all-NaN group: amax 0
    x[6, :32] = np.float32(2.0 ** -127) * 448.0          # amax/448 == 2^-127: RCEIL subnormal threshold
    x[7, :32] = RNG.standard_normal(32).astype(np.float32) * np.float32(2.0 ** -130)
    x[8, :32] = -np.float32(464.0) * np.float32(2.0 ** 10)  # ties at the top of the e4m3 range
    x[8, 1] = np.float32(448.0) * np.float32(2.0 ** 10)
    return x[:full_rows]


@pytest.mark.parametrize("rule", ["rceil", "floor"])
@pytest.mark.parametrize("rows,cols", [(12, 64), (130, 96), (3, 256)])
def test_quantize_mxfp8(rule, rows, cols):
    x = tricky(rows, cols)
    q, s = R.quantize(x, "mxfp8", rule)
    wq, ws = np_ref.quantize_mx(x, rule)
    same(s, ws)
    same(q, wq)
    qb, sb = R.quantize(x, "mxfp8", rule, "blocked128x4")
    same(qb, wq)
    same(sb, np_ref.blocked128x4(ws))


def test_quantize_mxfp8_inf():
    x = RNG.standard_normal((2, 64)).astype(np.float32)
    x[0, 4] = np.inf
    x[1, 40] = -np.inf
    for rule in ("rceil", "floor"):
        q, s = R.quantize(x, "mxfp8", rule)
        wq, ws = np_ref.quantize_mx(x, rule)
        same(s, ws)
        same(q, wq)
    assert R.quantize(x, "mxfp8", "rceil")[1][0, 0] == 0xFE
    assert R.quantize(x, "mxfp8", "floor")[1][0, 0] == 0xFF
    assert (R.quantize(x, "mxfp8", "floor")[0][0, :32] == 0x7F).all()


@pytest.mark.parametrize("rows,cols", [(6, 300), (5, 128), (1, 1024)])
def test_quantize_g128(rows, cols):
    x = tricky(rows, cols)
    x = np.where(np.isnan(x), np.float32(1.5), x)  # NaN-only groups: FORMAT.md leaves their g128 codes to the kernel
    q, s = R.quantize(x, "g128_fp32")
    wq, ws = np_ref.quantize_g128_fp32(x)
    same(s, ws)
    same(q, wq)
    assert s.strides == (4, 4 * (-(-rows // 4) * 4))  # MN-major, the SFA layout
    q, s = R.quantize(x, "g128_ue8m0")
    wq, ws = np_ref.quantize_g128_ue8m0(x)
    same(s, ws)
    same(q, wq)


def test_quantize_g128_inf_and_zero():
    x = np.ones((1, 256), np.float32)
    x[0, :128] = 0
    x[0, 130] = np.inf
    q, s = R.quantize(x, "g128_fp32")
    assert s[0, 0] == 1.0 and (q[0, :128] == 0).all()
    assert np.isinf(s[0, 1]) and q[0, 129] == 0 and q[0, 130] == 0x7F


@pytest.mark.parametrize("fmt", ["mxfp8", "g128_fp32", "g128_ue8m0"])
def test_quantize_columnwise(fmt):
    x = tricky(64, 96)
    x = np.where(np.isnan(x), np.float32(0.25), x)
    q, s = R.quantize(x, fmt, columnwise=True)
    wq, ws = R.quantize(np.ascontiguousarray(x.T), fmt)
    same(q, wq)
    same(s, ws)
    assert q.shape == (96, 64)


def test_quantize_bf16_bits_input():
    x = tricky(4, 64)
    bits = np_ref.to_bf16(x)
    xf = (bits.astype(np.uint32) << 16).view(np.float32)
    same(R.quantize(bits, "mxfp8")[0], R.quantize(xf, "mxfp8")[0])


def test_dequantize():
    x = (RNG.standard_normal((8, 256)) * 100).astype(np.float32)
    table = np_ref.e4m3_decode_table()
    q, s = R.quantize(x, "mxfp8")
    want = table[q] * np.exp2(np.repeat(s.astype(np.float64) - 127, 32, axis=1))
    same(R.dequantize(q, s, "mxfp8"), want.astype(np.float32))
    qb, sb = R.quantize(x, "mxfp8", scale_layout="blocked128x4")
    same(R.dequantize(qb, sb, "mxfp8", "blocked128x4"), want.astype(np.float32))
    q, s = R.quantize(x, "g128_fp32")
    np.testing.assert_allclose(R.dequantize(q, s, "g128_fp32"), x, rtol=2.0 ** -4, atol=0)


def test_to_bf16():
    x = np.concatenate([
        RNG.standard_normal(2000).astype(np.float32),
        (RNG.standard_normal(500) * 1e-40).astype(np.float32),     # subnormals
        np.array([1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1 + 2.0 ** -8 + 2.0 ** -20,  # ties to even, above ties
                  3.3895e38, 3.4e38, np.finfo(np.float32).max, np.inf, -np.inf, np.nan, -0.0, 0.0], np.float32),
    ])
    same(R.to_bf16(x), np_ref.to_bf16(x))
    same(R.bf16_to_float32(R.to_bf16(x[:10])), (np_ref.to_bf16(x[:10]).astype(np.uint32) << 16).view(np.float32))


def test_sfa_to_mn_major():
    sf = RNG.uniform(0.5, 2, (6, 3)).astype(np.float32)
    v = R.sfa_to_mn_major(sf)
    same(v, sf)
    assert v.strides == (4, 4 * 8)
    storage = v.base if v.base is not None else v
    while getattr(storage, "base", None) is not None:
        storage = storage.base
    assert np.asarray(storage).reshape(3, 8)[:, 6:].sum() == 0  # padding rows zeroed


def test_fused_reference_composes():
    M, N, K = 4, 64, 256
    A, B = codes(M, K), codes(N, K)
    sfa, sfb = pow2(M, 2, lo=-12, hi=-4), pow2(1, 2, lo=-12, hi=-4)
    d32 = np_ref.gemm_nt(A, sfa, B, sfb).astype(np.float32)
    q, s = R.fp8_gemm_nt((A, sfa), (B, sfb), "mxfp8")
    wq, ws = np_ref.quantize_mx(d32)
    same(q, wq)
    same(s, ws)
    same(R.fp8_gemm_nt((A, sfa), (B, sfb)), np_ref.to_bf16(d32))


def test_reference_argument_errors():
    A, B = codes(4, 256), codes(64, 256)
    with pytest.raises(TypeError, match="expected e4m3 bytes"):
        R.gemm_nt((A.astype(np.float32), np.ones((4, 2), np.float32)), (B, np.ones((1, 2), np.float32)))
    with pytest.raises(ValueError, match="sfa"):
        R.gemm_nt((A, np.ones((4, 3), np.float32)), (B, np.ones((1, 2), np.float32)))
    with pytest.raises(ValueError, match="bf16"):
        R.quantize(np.zeros((2, 32), np.float32), "bf16")
