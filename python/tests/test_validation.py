"""Argument handling with CPU (NumPy) arrays: the dtype/shape/stride checks of the bindings and the C++ validate(),
through mxgemm.validate (no launch, no GPU). TypeError for dtypes, ValueError for shapes and rules."""
import numpy as np
import pytest

import mxgemm
from mxgemm import validate as V

FORMATS = [("bf16", "rceil", "compact"), ("mxfp8", "rceil", "compact"), ("mxfp8", "floor", "compact"),
           ("mxfp8", "rceil", "blocked128x4"), ("mxfp8", "floor", "blocked128x4"), ("g128_fp32", "rceil", "compact"),
           ("g128_ue8m0", "rceil", "compact")]


def cdiv(a, b):
    return -(-a // b)


def pad(x, a):
    return cdiv(x, a) * a


def mn_major(M, kb, value=1.0):
    """SFA-layout float32 [M, kb] view over storage [kb, pad(M,4)]."""
    return np.full((kb, pad(M, 4)), value, np.float32).T[:M]


def operands(M, N, K, G=None):
    kb = cdiv(K, 128)
    a = (np.zeros((M, K), np.uint8), mn_major(M, kb))
    if G is None:
        b = (np.zeros((N, K), np.uint8), np.ones((cdiv(N, 128), kb), np.float32))
    else:
        b = (np.zeros((G, N, K), np.uint8), np.ones((G, cdiv(N, 128), kb), np.float32))
    return a, b


def output(fmt, layout, M, N):
    if fmt == "bf16":
        return np.zeros((M, N), np.uint16)
    d = np.zeros((M, N), np.uint8)
    if fmt == "mxfp8":
        shape = (M, cdiv(N, 32)) if layout == "compact" else (pad(M, 128), pad(cdiv(N, 32), 4))
        return d, np.zeros(shape, np.uint8)
    return d, mn_major(M, cdiv(N, 128))


# ---- dense GEMM ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt,rule,layout", FORMATS)
@pytest.mark.parametrize("M,N,K", [(1, 256, 128), (128, 256, 256), (130, 384, 272), (4096, 7168, 2048)])
def test_gemm_valid(fmt, rule, layout, M, N, K):
    a, b = operands(M, N, K)
    V.fp8_gemm_nt(a, b, output(fmt, layout, M, N), out_format=fmt, scale_rule=rule, scale_layout=layout)


def test_gemm_default_formats():
    a, b = operands(128, 256, 256)
    V.fp8_gemm_nt(a, b, np.zeros((128, 256), np.uint16))              # a tensor: bf16
    V.fp8_gemm_nt(a, b, output("mxfp8", "compact", 128, 256))          # a tuple: mxfp8
    with pytest.raises(ValueError, match="tuple"):
        V.fp8_gemm_nt(a, b, np.zeros((128, 256), np.uint8), out_format="mxfp8")
    with pytest.raises(ValueError, match="bf16"):
        V.fp8_gemm_nt(a, b, output("mxfp8", "compact", 128, 256), out_format="bf16")


def test_gemm_row_stride_of_a_and_d():
    M, N, K = 64, 256, 256
    a, b = operands(M, N, K)
    wide = np.zeros((M, K + 16), np.uint8)
    V.fp8_gemm_nt((wide[:, :K], a[1]), b, np.zeros((M, N + 64), np.uint16)[:, :N])
    bad = np.zeros((M, K + 8), np.uint8)[:, :K]
    with pytest.raises(ValueError, match="lda=264"):
        V.fp8_gemm_nt((bad, a[1]), b, np.zeros((M, N), np.uint16))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.uint16])
def test_gemm_wrong_dtype_of_a(dtype):
    a, b = operands(128, 256, 256)
    with pytest.raises(TypeError, match=r"fp8_gemm_nt: a: dtype .*float8_e4m3fn"):
        V.fp8_gemm_nt((a[0].astype(dtype), a[1]), b, np.zeros((128, 256), np.uint16))


def test_gemm_wrong_dtypes():
    M, N, K = 128, 256, 256
    a, b = operands(M, N, K)
    with pytest.raises(TypeError, match="sfa: dtype float64, expected float32"):
        V.fp8_gemm_nt((a[0], a[1].astype(np.float64)), b, np.zeros((M, N), np.uint16))
    with pytest.raises(TypeError, match="sfb: dtype"):
        V.fp8_gemm_nt(a, (b[0], b[1].astype(np.float16)), np.zeros((M, N), np.uint16))
    with pytest.raises(TypeError, match="d: dtype float32"):
        V.fp8_gemm_nt(a, b, np.zeros((M, N), np.float32))
    with pytest.raises(TypeError, match="d_sf: dtype float32, expected float8_e8m0fnu or uint8"):
        V.fp8_gemm_nt(a, b, (np.zeros((M, N), np.uint8), np.zeros((M, N // 32), np.float32)))
    with pytest.raises(TypeError, match="d_sf: dtype uint8, expected float32"):
        V.fp8_gemm_nt(a, b, (np.zeros((M, N), np.uint8), np.zeros((M, N // 128), np.uint8)), out_format="g128_fp32")


def test_gemm_not_arrays():
    a, b = operands(128, 256, 256)
    with pytest.raises(TypeError, match="a: expected a .data, scales. tuple"):
        V.fp8_gemm_nt(a[0], b, np.zeros((128, 256), np.uint16))
    with pytest.raises(TypeError, match="expected an array"):
        V.fp8_gemm_nt(([1, 2], a[1]), b, np.zeros((128, 256), np.uint16))
    with pytest.raises(TypeError, match="expected an array, got None"):
        V.fp8_gemm_nt((None, a[1]), b, np.zeros((128, 256), np.uint16))


def test_gemm_shapes():
    M, N, K = 128, 256, 256
    a, b = operands(M, N, K)
    with pytest.raises(ValueError, match="b: shape .*K=128 differs from a's K=256"):
        V.fp8_gemm_nt(a, (np.zeros((N, 128), np.uint8), b[1]), np.zeros((M, N), np.uint16))
    with pytest.raises(ValueError, match=r"sfa: shape \[128, 3\], expected \[128, 2\]"):
        V.fp8_gemm_nt((a[0], mn_major(M, 3)), b, np.zeros((M, N), np.uint16))
    with pytest.raises(ValueError, match=r"sfb: shape \[2, 3\], expected \[2, 2\]"):
        V.fp8_gemm_nt(a, (b[0], np.ones((2, 3), np.float32)), np.zeros((M, N), np.uint16))
    with pytest.raises(ValueError, match=r"d: shape \[128, 128\], expected \[128, 256\]"):
        V.fp8_gemm_nt(a, b, np.zeros((M, 128), np.uint16))
    with pytest.raises(ValueError, match=r"d_sf: shape \[128, 7\], expected \[128, 8\]"):
        V.fp8_gemm_nt(a, b, (np.zeros((M, N), np.uint8), np.zeros((M, 7), np.uint8)))
    with pytest.raises(ValueError, match="expected 1024 = pad"):
        V.fp8_gemm_nt(a, b, (np.zeros((M, N), np.uint8), np.zeros((M, 4), np.uint8)), scale_layout="blocked128x4")
    with pytest.raises(ValueError, match="a: 3 dimensions .*expected 2"):
        V.fp8_gemm_nt((a[0][None], a[1]), b, np.zeros((M, N), np.uint16))


def test_gemm_sfa_must_be_mn_major():
    M, N, K = 128, 256, 256
    a, b = operands(M, N, K)
    with pytest.raises(ValueError, match="SFA must be MN-major.*get_mn_major_sfa"):
        V.fp8_gemm_nt((a[0], np.ones((M, 2), np.float32)), b, np.zeros((M, N), np.uint16))
    # an MN-major view with a row pitch that is not a multiple of 4: caught by the C++ validate()
    odd = np.ones((2, 130), np.float32).T[:M]
    with pytest.raises(ValueError, match="ldsfa=130: must be a multiple of 4"):
        V.fp8_gemm_nt((a[0], odd), b, np.zeros((M, N), np.uint16))


def test_gemm_g128_scales_layout():
    M, N, K = 128, 256, 256
    a, b = operands(M, N, K)
    d = np.zeros((M, N), np.uint8)
    with pytest.raises(ValueError, match="g128 scales are MN-major"):
        V.fp8_gemm_nt(a, b, (d, np.ones((M, 2), np.float32)), out_format="g128_fp32")


def test_gemm_rules_from_cpp_validate():
    a, b = operands(128, 256, 200)
    with pytest.raises(ValueError, match=r"fp8_gemm_nt: K=200: must be a multiple of 16 \(TMA row pitch\)"):
        V.fp8_gemm_nt(a, b, np.zeros((128, 256), np.uint16))
    a, b = operands(128, 48, 256)
    with pytest.raises(ValueError, match="N=48: must be a multiple of 32"):
        V.fp8_gemm_nt(a, b, output("mxfp8", "compact", 128, 48))
    a, b = operands(128, 256, 256)
    with pytest.raises(ValueError, match="out.rule=floor"):
        V.fp8_gemm_nt(a, b, output("g128_fp32", "compact", 128, 256), out_format="g128_fp32", scale_rule="floor")


def test_gemm_misaligned_pointer():
    M, N, K = 128, 256, 256
    a, b = operands(M, N, K)
    buf = np.zeros(M * K + 16, np.uint8)
    shifted = buf[1:1 + M * K].reshape(M, K)
    with pytest.raises(ValueError, match="a=0x[0-9a-f]+: must be 16-byte aligned"):
        V.fp8_gemm_nt((shifted, a[1]), b, np.zeros((M, N), np.uint16))


def test_gemm_bad_enums():
    a, b = operands(128, 256, 256)
    d = output("mxfp8", "compact", 128, 256)
    with pytest.raises(ValueError, match="out_format='mxfp4'"):
        V.fp8_gemm_nt(a, b, d, out_format="mxfp4")
    with pytest.raises(ValueError, match="scale_rule='nearest'"):
        V.fp8_gemm_nt(a, b, d, scale_rule="nearest")
    with pytest.raises(ValueError, match="scale_layout"):
        V.fp8_gemm_nt(a, b, d, scale_layout=7)


def test_unsupported_device():
    a, b = operands(128, 256, 256)
    with pytest.raises(mxgemm.UnsupportedError, match="compute capability=8.0"):
        V.fp8_gemm_nt(a, b, np.zeros((128, 256), np.uint16), device=(8, 0, 108))
    with pytest.raises(mxgemm.UnsupportedError, match="compute capability=10.0"):
        V.fp8_gemm_nt(a, b, np.zeros((128, 256), np.uint16), device=(10, 0, 148))


def test_launch_with_host_arrays_is_rejected():
    a, b = operands(128, 256, 256)
    with pytest.raises(ValueError, match="fp8_gemm_nt: a: on cpu, expected CUDA device memory"):
        mxgemm.fp8_gemm_nt(a, b, np.zeros((128, 256), np.uint16))
    with pytest.raises(ValueError, match="on cpu"):
        mxgemm.fp8_gemm_nt_mxfp8out(a, b, *output("mxfp8", "compact", 128, 256))
    with pytest.raises(ValueError, match="on cpu"):
        mxgemm.quantize_into(np.zeros((128, 256), np.float32), *output("mxfp8", "compact", 128, 256))
    src = np.ones((128, 2), np.float32)
    with pytest.raises(ValueError, match="on cpu"):
        mxgemm.transform_sfa_to_mn_major(src, mn_major(128, 2))


def test_allocating_variants_need_torch_or_cupy():
    a, b = operands(128, 256, 256)
    with pytest.raises(TypeError, match="preallocated"):
        mxgemm.gemm_nt(a, b, out_format="mxfp8")
    with pytest.raises(TypeError, match="preallocated"):
        mxgemm.quantize(np.zeros((128, 256), np.float32))


# ---- grouped ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt,rule,layout", FORMATS)
def test_grouped_contiguous_valid(fmt, rule, layout):
    G, M, N, K = 3, 384, 256, 512
    a, b = operands(M, N, K, G=G)
    lay = np.repeat(np.arange(G, dtype=np.int32), 128)
    V.m_grouped_fp8_gemm_nt_contiguous(a, b, output(fmt, layout, M, N), lay, out_format=fmt, scale_rule=rule,
                                       scale_layout=layout)


def test_grouped_contiguous_errors():
    G, M, N, K = 2, 256, 256, 256
    a, b = operands(M, N, K, G=G)
    lay = np.zeros(M, np.int32)
    d = np.zeros((M, N), np.uint16)
    with pytest.raises(TypeError, match="layout: dtype int64, expected int32"):
        V.m_grouped_fp8_gemm_nt_contiguous(a, b, d, lay.astype(np.int64))
    with pytest.raises(ValueError, match=r"layout: shape \[128\], expected \[256\]"):
        V.m_grouped_fp8_gemm_nt_contiguous(a, b, d, lay[:128])
    with pytest.raises(ValueError, match="b: 2 dimensions .*expected 3"):
        V.m_grouped_fp8_gemm_nt_contiguous(a, (b[0][0], b[1][0]), d, lay)
    a2, b2 = operands(200, N, K, G=G)
    with pytest.raises(ValueError, match="M=200: must be a multiple of 128"):
        V.m_grouped_fp8_gemm_nt_contiguous(a2, b2, np.zeros((200, N), np.uint16), np.zeros(200, np.int32))
    with pytest.raises(ValueError, match="sfb: shape"):
        V.m_grouped_fp8_gemm_nt_contiguous(a, (b[0], b[1][:1]), d, lay)


@pytest.mark.parametrize("fmt,rule,layout", FORMATS)
def test_grouped_masked_valid(fmt, rule, layout):
    G, max_m, N, K = 4, 64, 256, 384
    kb = cdiv(K, 128)
    a = (np.zeros((G, max_m, K), np.uint8), np.ones((G, kb, pad(max_m, 4)), np.float32).transpose(0, 2, 1))
    b = (np.zeros((G, N, K), np.uint8), np.ones((G, cdiv(N, 128), kb), np.float32))
    if fmt == "bf16":
        d = np.zeros((G, max_m, N), np.uint16)
    elif fmt == "mxfp8":
        shape = (G, max_m, N // 32) if layout == "compact" else (G, pad(max_m, 128), pad(N // 32, 4))
        d = (np.zeros((G, max_m, N), np.uint8), np.zeros(shape, np.uint8))
    else:
        d = (np.zeros((G, max_m, N), np.uint8),
             np.zeros((G, cdiv(N, 128), pad(max_m, 4)), np.float32).transpose(0, 2, 1))
    V.m_grouped_fp8_gemm_nt_masked(a, b, d, np.full(G, 10, np.int32), 16, out_format=fmt, scale_rule=rule,
                                   scale_layout=layout)


def test_grouped_masked_errors():
    G, max_m, N, K = 2, 64, 256, 256
    a = (np.zeros((G, max_m, K), np.uint8), np.ones((G, 2, max_m), np.float32).transpose(0, 2, 1))
    b = (np.zeros((G, N, K), np.uint8), np.ones((G, 2, 2), np.float32))
    d = np.zeros((G, max_m, N), np.uint16)
    mm = np.zeros(G, np.int32)
    with pytest.raises(ValueError, match=r"masked_m: shape \[3\], expected \[2\]"):
        V.m_grouped_fp8_gemm_nt_masked(a, b, d, np.zeros(3, np.int32))
    with pytest.raises(ValueError, match="masked SFA"):
        V.m_grouped_fp8_gemm_nt_masked((a[0], np.ones((G, 2, 2), np.float32)), b, d, mm)
    with pytest.raises(ValueError, match="MN-major over storage"):
        V.m_grouped_fp8_gemm_nt_masked((a[0], np.ones((G, max_m, 2), np.float32)), b, d, mm)
    with pytest.raises(ValueError, match="expected_m=65"):
        V.m_grouped_fp8_gemm_nt_masked(a, b, d, mm, 65)
    with pytest.raises(ValueError, match=r"d: shape \[2, 64, 128\]"):
        V.m_grouped_fp8_gemm_nt_masked(a, b, np.zeros((G, max_m, 128), np.uint16), mm)


# ---- quantizer -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt,rule,layout", [f for f in FORMATS if f[0] != "bf16"])
@pytest.mark.parametrize("columnwise", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.uint16])
def test_quantize_valid(fmt, rule, layout, columnwise, dtype):
    M, N = 256, 512
    x = np.zeros((M, N), dtype)
    rows, cols = (N, M) if columnwise else (M, N)
    V.quantize_into(x, *output(fmt, layout, rows, cols), out_format=fmt, scale_rule=rule, scale_layout=layout,
                    columnwise=columnwise)


def test_quantize_errors():
    x = np.zeros((128, 256), np.float32)
    with pytest.raises(TypeError, match="x: dtype float64, expected bfloat16"):
        V.quantize_into(x.astype(np.float64), *output("mxfp8", "compact", 128, 256))
    with pytest.raises(ValueError, match=r"d: shape \[128, 256\], expected \[256, 128\]"):
        V.quantize_into(x, *output("mxfp8", "compact", 128, 256), columnwise=True)
    with pytest.raises(ValueError, match="bf16 is not a quantized format"):
        V.quantize_into(x, np.zeros((128, 256), np.uint16), None, out_format="bf16")
    with pytest.raises(ValueError, match="d_sf is required"):
        V.quantize_into(x, np.zeros((128, 256), np.uint8), None)
    with pytest.raises(ValueError, match="last dimension must be contiguous"):
        V.quantize_into(np.zeros((256, 128), np.float32).T, *output("mxfp8", "compact", 128, 256))
    with pytest.raises(ValueError, match="N=48: must be a multiple of 32"):
        V.quantize_into(np.zeros((128, 48), np.float32), *output("mxfp8", "compact", 128, 48))


def test_gemm_pdl_flag_is_accepted_and_still_validated():
    a, b = operands(128, 256, 256)
    V.fp8_gemm_nt(a, b, np.zeros((128, 256), np.uint16), pdl=True)
    with pytest.raises(ValueError):  # the same rules apply with pdl on
        V.fp8_gemm_nt(a, b, np.zeros((128, 128), np.uint16), pdl=True)
