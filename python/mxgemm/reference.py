"""CPU reference of mxgemm over NumPy arrays: the C++ oracle (src/reference) through the extension. No GPU needed.

Use it for your own tests. Arrays may be NumPy, or torch/CuPy/JAX arrays (copied to host). e4m3 data: uint8
bytes (or any 1-byte float8 dtype, reinterpreted); bf16: uint16 bits (see to_bf16 / bf16_to_float32).

- gemm_nt(a, b) -> float64 [M, N]: FP64 over the dequantized inputs (FORMAT.md §1). a = (A [M, K], SFA [M,
  ceil(K/128)]), b = (B [N, K], SFB [ceil(N/128), ceil(K/128)]); SFA in any memory layout (the logical matrix).
- fp8_gemm_nt(a, b, out_format=...) -> what the fused GEMM produces from that result rounded to FP32: bf16 bits,
  or (data, scales). The GPU accumulates in FP32, so compare with a tolerance (or compare the quantization of the
  GPU's own FP32 values, which is exact: quantize()).
- m_grouped_gemm_nt_contiguous / m_grouped_gemm_nt_masked: FORMAT.md §4 (masked rows >= masked_m[g] are NaN).
- quantize(x, out_format, scale_rule, scale_layout, columnwise) -> (data uint8, scales): FORMAT.md §2-3, from FP32
  (float64 input is rounded to FP32 first; uint16 input is taken as bf16 bits).
- dequantize(data, scales, out_format, scale_layout) -> float32; to_bf16(x) -> uint16; bf16_to_float32(bits);
  e4m3_to_float32(bytes); sfa_to_mn_major(sf) -> the MN-major SFA view.
Scale shapes are those of the GPU API: mxfp8 compact [rows, ceil(cols/32)] uint8; blocked128x4
[pad(rows,128), pad(ceil(cols/32),4)] uint8; g128 float32 [rows, ceil(cols/128)] MN-major (a view of
[ceil(cols/128), pad(rows,4)]).
"""
import numpy as np

from . import _C
from . import _formats as F

__all__ = ["gemm_nt", "fp8_gemm_nt", "m_grouped_gemm_nt_contiguous", "m_grouped_gemm_nt_masked", "quantize",
           "dequantize", "to_bf16", "bf16_to_float32", "e4m3_to_float32", "sfa_to_mn_major"]


def _host(x):
    mod = type(x).__module__
    if mod.startswith("torch"):
        import torch

        x = x.detach().cpu()
        if x.dtype.itemsize == 1 and x.dtype not in (torch.uint8, torch.int8, torch.bool):
            x = x.view(torch.uint8)
        elif x.dtype == torch.bfloat16:
            x = x.view(torch.int16)
            return x.numpy().view(np.uint16)
        return x.numpy()
    if mod.startswith("cupy"):
        return x.get()
    return np.asarray(x)


def _bytes(x, name, ndim):
    x = _host(x)
    if x.dtype.itemsize != 1:
        raise TypeError(f"{name}: dtype {x.dtype}, expected e4m3 bytes (uint8 or a 1-byte float8 dtype)")
    if x.ndim != ndim:
        raise ValueError(f"{name}: shape {x.shape}, expected {ndim} dimensions")
    return np.ascontiguousarray(x).view(np.uint8)


def _f32(x, name, ndim=None):
    x = _host(x)
    if x.dtype != np.float32:
        raise TypeError(f"{name}: dtype {x.dtype}, expected float32")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name}: shape {x.shape}, expected {ndim} dimensions")
    return x


def _mn_storage(sfa, M, kb, name):
    """Logical [.., M, kb] scales (any memory layout) -> C-contiguous storage [.., kb, pad(M,4)] (padding 0)."""
    if sfa.shape[-2:] != (M, kb):
        raise ValueError(f"{name}: shape {sfa.shape}, expected [..., {M}, {kb}] (M, ceil(K/128))")
    lead = sfa.shape[:-2]
    st = np.zeros(lead + (kb, F.pad(M, 4)), np.float32)
    st[..., :M] = np.swapaxes(sfa, -1, -2)
    return st


def _operands(a, b, grouped):
    A, SFA = a
    B, SFB = b
    A = _bytes(A, "a", 2)
    B = _bytes(B, "b", 3 if grouped else 2)
    M, K = A.shape
    N = B.shape[-2]
    if B.shape[-1] != K:
        raise ValueError(f"b: shape {B.shape}: K={B.shape[-1]} differs from a's K={K}")
    kb = F.ceil_div(K, 128)
    sfa = _mn_storage(_f32(SFA, "sfa", 2), M, kb, "sfa")
    sfb = np.ascontiguousarray(_f32(SFB, "sfb", 3 if grouped else 2))
    want = (F.ceil_div(N, 128), kb) if not grouped else (B.shape[0], F.ceil_div(N, 128), kb)
    if sfb.shape != want:
        raise ValueError(f"sfb: shape {sfb.shape}, expected {list(want)}")
    return A, sfa, B, sfb, M, N, K


def gemm_nt(a, b):
    """FP64 D[M, N] = (A*SFA) @ (B*SFB)^T."""
    A, sfa, B, sfb, M, N, K = _operands(a, b, False)
    d = np.empty((M, N), np.float64)
    _C.ref_gemm_nt(A, sfa, B, sfb, d)
    return d


def m_grouped_gemm_nt_contiguous(a, b, layout):
    """FP64 [sum_M, N]; rows whose layout is -1 (or >= G) are 0."""
    A, sfa, B, sfb, M, N, K = _operands(a, b, True)
    layout = np.ascontiguousarray(_host(layout), dtype=np.int32)
    if layout.shape != (M,):
        raise ValueError(f"layout: shape {layout.shape}, expected [{M}]")
    d = np.empty((M, N), np.float64)
    _C.ref_grouped_contiguous(A, sfa, B, sfb, layout, d)
    return d


def m_grouped_gemm_nt_masked(a, b, masked_m):
    """FP64 [G, max_m, N]; rows >= masked_m[g] are NaN ("not written")."""
    A, SFA = a
    B, SFB = b
    A = _bytes(A, "a", 3)
    B = _bytes(B, "b", 3)
    G, max_m, K = A.shape
    N = B.shape[1]
    if B.shape[0] != G or B.shape[2] != K:
        raise ValueError(f"b: shape {B.shape}, expected [{G}, N, {K}]")
    kb = F.ceil_div(K, 128)
    sfa = _mn_storage(_f32(SFA, "sfa", 3), max_m, kb, "sfa")
    sfb = np.ascontiguousarray(_f32(SFB, "sfb", 3))
    if sfb.shape != (G, F.ceil_div(N, 128), kb):
        raise ValueError(f"sfb: shape {sfb.shape}, expected [{G}, {F.ceil_div(N, 128)}, {kb}]")
    masked_m = np.ascontiguousarray(_host(masked_m), dtype=np.int32)
    if masked_m.shape != (G,):
        raise ValueError(f"masked_m: shape {masked_m.shape}, expected [{G}]")
    d = np.empty((G, max_m, N), np.float64)
    _C.ref_grouped_masked(A, sfa, B, sfb, masked_m, d)
    return d


def _input_f32(x):
    x = _host(x)
    if x.dtype == np.uint16:
        return bf16_to_float32(x)
    if x.dtype == np.float64:
        return x.astype(np.float32)
    if x.dtype != np.float32:
        raise TypeError(f"x: dtype {x.dtype}, expected float32 (float64 is rounded to FP32; uint16 = bf16 bits)")
    return x


def quantize(x, out_format="mxfp8", scale_rule="rceil", scale_layout="compact", columnwise=False):
    """Quantize FP32 x [M, N] (or x^T with columnwise=True) by FORMAT.md §2-3: returns (data uint8, scales)."""
    fmt, rule, layout = F.out_format(out_format), F.scale_rule(scale_rule), F.scale_layout(scale_layout)
    if fmt == F.BF16:
        raise ValueError("quantize: out_format='bf16' is not a quantized format (use to_bf16)")
    x = _input_f32(x)
    if x.ndim != 2:
        raise ValueError(f"x: shape {x.shape}, expected [M, N]")
    if columnwise:
        x = x.T
    x = np.ascontiguousarray(x)
    rows, cols = x.shape
    data = np.empty((rows, cols), np.uint8)
    shape = F.scale_storage_shape(fmt, layout, rows, cols)
    if F.scale_is_float(fmt):
        storage = np.zeros(shape, np.float32)  # padding rows are not written: zero, as SFA padding
        _C.ref_quantize(x, fmt, rule, layout, data, storage)
        return data, storage.T[:rows]
    storage = np.empty(shape, np.uint8)
    _C.ref_quantize(x, fmt, rule, layout, data, storage)
    return data, storage


def dequantize(data, scales, out_format="mxfp8", scale_layout="compact"):
    """Quantized (data [rows, cols], scales) -> float32 [rows, cols]."""
    fmt, layout = F.out_format(out_format), F.scale_layout(scale_layout)
    if fmt == F.BF16:
        raise ValueError("dequantize: use bf16_to_float32 for bf16 output")
    data = _bytes(data, "data", 2)
    rows, cols = data.shape
    scales = _host(scales)
    if F.scale_is_float(fmt):
        st = _mn_storage(_f32(scales, "scales", 2), rows, F.ceil_div(cols, 128), "scales")
    else:
        if scales.dtype.itemsize != 1:
            raise TypeError(f"scales: dtype {scales.dtype}, expected e8m0 bytes (uint8)")
        st = np.ascontiguousarray(scales).view(np.uint8).reshape(-1)
    out = np.empty((rows, cols), np.float32)
    _C.ref_dequantize(data, st, fmt, layout, out)
    return out


def to_bf16(x):
    """FP32 -> bf16 bits (uint16), round to nearest even."""
    x = np.ascontiguousarray(_input_f32(x))
    squeeze = x.ndim == 1
    x2 = x.reshape(1, -1) if squeeze else x
    if x2.ndim != 2:
        raise ValueError("to_bf16: expected a 1-D or 2-D array")
    out = np.empty(x2.shape, np.uint16)
    _C.ref_to_bf16(x2, out)
    return out.reshape(x.shape)


def bf16_to_float32(bits):
    """bf16 bits (uint16) -> float32 (exact)."""
    bits = np.asarray(bits)
    return (bits.astype(np.uint32) << 16).view(np.float32)


_E4M3 = None


def e4m3_to_float32(data):
    """e4m3 bytes -> float32 (exact; 0x7F/0xFF are NaN), through the C++ rules."""
    global _E4M3
    if _E4M3 is None:
        codes = np.arange(256, dtype=np.uint8).reshape(1, 256)
        _E4M3 = dequantize(codes, np.full((1, 8), 127, np.uint8), "mxfp8", "compact").reshape(256)
    data = _host(data)
    if data.dtype.itemsize != 1:
        raise TypeError(f"data: dtype {data.dtype}, expected e4m3 bytes")
    return _E4M3[data.view(np.uint8)]


def sfa_to_mn_major(sf):
    """Row-major float32 [M, kb] scales -> the MN-major SFA view [M, kb] (strides (1, pad(M,4)) in elements)."""
    sf = np.ascontiguousarray(_f32(sf, "sf", 2))
    M, kb = sf.shape
    storage = np.empty((kb, F.pad(M, 4)), np.float32)
    _C.ref_sfa_to_mn_major(sf, storage)
    return storage.T[:M]


def fp8_gemm_nt(a, b, out_format="bf16", scale_rule="rceil", scale_layout="compact"):
    """What the fused GEMM writes, from the FP64 result rounded to FP32: bf16 bits (uint16) or (data, scales)."""
    d32 = gemm_nt(a, b).astype(np.float32)
    if F.out_format(out_format) == F.BF16:
        return to_bf16(d32)
    return quantize(d32, out_format, scale_rule, scale_layout)
