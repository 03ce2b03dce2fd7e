"""mxgemm: FP8 GEMMs for NVIDIA Hopper (SM90a) whose epilogues write quantized output.

Conventions (DeepGEMM's): FP8 operands come as ``(data, scales)`` tuples; outputs are preallocated and passed in,
and every function has an allocating variant that returns the output (``d`` or ``(data, scales)``).

Operands (FORMAT.md §1; docs in python/README.md):
  a = (A, SFA): A e4m3 [M, K] (K contiguous), SFA float32 [M, ceil(K/128)] **MN-major** (strides (1, pad(M,4)),
      see get_mn_major_sfa); b = (B, SFB): B e4m3 [N, K], SFB float32 [ceil(N/128), ceil(K/128)] row-major.
  e4m3 tensors: torch.float8_e4m3fn or their bytes as uint8; e8m0 scales: torch.uint8 or torch.float8_e8m0fnu;
  bf16 outputs: torch.bfloat16 or their bits as uint16 (NumPy/CuPy).
Outputs (FORMAT.md §2): out_format "bf16" | "mxfp8" | "g128_fp32" | "g128_ue8m0"; scale_rule "rceil" | "floor"
  and scale_layout "compact" | "blocked128x4" for mxfp8. g128 scales are float32 [M, ceil(N/128)] MN-major, the
  SFA layout, so ``(data, scales)`` of a g128 output is the ``a`` of the next GEMM as is.
Arrays: torch tensors (fast path) or anything with DLPack (CuPy, JAX inputs, ...). Stream: ``stream=`` (an int
  cudaStream_t, or a torch/CuPy stream object), else the current torch stream of the tensors' device (or CuPy's
  current stream for CuPy arrays), else the legacy default stream. The GIL is released around launches.
Errors: TypeError (wrong dtype / not an array), ValueError (shape, stride, device, or a rule of FORMAT.md; the
  C++ validate() message), NotImplementedError (part of the contract, not implemented yet), UnsupportedError
  (a RuntimeError: no SM90 GPU / this build cannot run it), CudaError (a RuntimeError: a CUDA call failed).
"""
import os
import sys

__version__ = "0.1.0"


def _load_extension():
    try:
        from . import _C
        return _C
    except ImportError as first:
        if "libcudart" not in str(first):
            raise
    # libcudart not found by the rpath of the build: try the pip CUDA runtime wheel and CUDA_HOME, then retry.
    import ctypes
    import glob

    candidates = []
    for p in sys.path:
        candidates += sorted(glob.glob(os.path.join(p, "nvidia", "cu13", "lib", "libcudart.so.*")))
        candidates += sorted(glob.glob(os.path.join(p, "nvidia", "cuda_runtime", "lib", "libcudart.so.*")))
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home:
            candidates += sorted(glob.glob(os.path.join(home, "lib*", "libcudart.so.*")))
    for c in candidates:
        try:
            ctypes.CDLL(c, mode=ctypes.RTLD_GLOBAL)
            break
        except OSError:
            continue
    from . import _C
    return _C


_C = _load_extension()

from . import _alloc  # noqa: E402
from . import _formats as _F  # noqa: E402
from ._C import CudaError, UnsupportedError  # noqa: E402

__all__ = [
    "fp8_gemm_nt", "fp8_gemm_nt_mxfp8out", "gemm_nt",
    "m_grouped_fp8_gemm_nt_contiguous", "m_grouped_fp8_gemm_nt_contiguous_mxfp8out", "m_grouped_gemm_nt_contiguous",
    "m_grouped_fp8_gemm_nt_masked", "m_grouped_fp8_gemm_nt_masked_mxfp8out", "m_grouped_gemm_nt_masked",
    "quantize", "quantize_into", "get_mn_major_sfa", "get_mn_major_tma_aligned_tensor", "transform_sfa_to_mn_major",
    "empty_sfa", "get_m_alignment", "group_size", "scale_shape", "device_info", "is_supported",
    "UnsupportedError", "CudaError", "OUT_FORMATS", "SCALE_RULES", "SCALE_LAYOUTS",
]

OUT_FORMATS = tuple(_F.OUT_FORMATS)
SCALE_RULES = tuple(_F.SCALE_RULES)
SCALE_LAYOUTS = ("compact", "blocked128x4")


# ---- torch integration hooks ---------------------------------------------------------------------------------------
# Replaced by torch.compiler.is_compiling once mxgemm._torch.setup() ran (at import when torch is already imported,
# else on the first torch tensor mxgemm sees, or on `import mxgemm.torch_ops`). Under torch.compile the public
# functions below call the torch.library ops (mxgemm.torch_ops) instead of the extension, so they trace into the graph.
def _compiling():
    return False


_torch_ops = None  # torch.ops.mxgemm, set by mxgemm._torch.setup()


def _ops():
    if _torch_ops is None:
        raise RuntimeError("mxgemm's torch.library ops are not registered: `import mxgemm.torch_ops` (or import "
                           "torch before mxgemm) before torch.compile traces mxgemm calls")
    return _torch_ops


def _strided_scales(fmt, rows):
    """g128 scales of a [rows, ..] output whose MN-major view has gaps (rows % 4 != 0). Under torch.compile such an
    output cannot go to a mutating op: functionalization clones mutated arguments, and the clone of a view with
    gaps is compacted (row pitch `rows`, not pad(rows,4)). Those calls use the functional op and copy_ instead."""
    return _F.scale_is_float(fmt) and rows % 4 != 0


def _pair(x, name):
    if isinstance(x, (tuple, list)) and len(x) == 2:
        return x[0], x[1]
    raise TypeError(f"{name}: expected a (data, scales) tuple, got {type(x).__name__}")


def _output(d, out_format, default_quantized="mxfp8"):
    """(data, scales or None, format id) from a preallocated output: a tensor (bf16) or a (data, scales) tuple."""
    if isinstance(d, (tuple, list)):
        if len(d) != 2:
            raise TypeError(f"d: expected a bf16 tensor or a (data, scales) tuple, got a {len(d)}-tuple")
        fmt = _F.out_format(default_quantized if out_format is None else out_format)
        if fmt == _F.BF16:
            raise ValueError("d: a (data, scales) tuple was given with out_format='bf16' (bf16 has no scales)")
        return d[0], d[1], fmt
    fmt = _F.out_format("bf16" if out_format is None else out_format)
    if fmt != _F.BF16:
        raise ValueError(f"d: out_format={out_format!r} needs a (data, scales) tuple")
    return d, None, fmt


# ---- dense GEMM ----------------------------------------------------------------------------------------------------
def fp8_gemm_nt(a, b, d, *, out_format=None, scale_rule="rceil", scale_layout="compact", stream=None, pdl=False,
                _validate_only=None):
    """D = (A*SFA) @ (B*SFB)^T into the preallocated ``d``.

    ``d`` is a bf16 [M, N] tensor (out_format "bf16", the default for a tensor) or a ``(data, scales)`` tuple
    (out_format defaults to "mxfp8" for a tuple; "g128_fp32" / "g128_ue8m0" by name).
    ``pdl=True``: programmatic dependent launch (docs/API.md): the GEMM may start while the previous kernel in the
    stream finishes; it reads A/SFA/SFB and writes ``d`` only after that kernel completes (B and SFB must not be
    written by it). Helps chains of small-M GEMMs; ignored under torch.compile.
    """
    A, SFA = _pair(a, "a")
    B, SFB = _pair(b, "b")
    D, DSF, fmt = _output(d, out_format)
    rule, layout = _F.scale_rule(scale_rule), _F.scale_layout(scale_layout)
    if _compiling():
        ops = _ops()
        if DSF is None:
            ops.gemm_nt_bf16_out(A, SFA, B, SFB, D)
        elif _strided_scales(fmt, A.shape[0]):
            data, storage = ops.gemm_nt(A, SFA, B, SFB, fmt, rule, layout)
            D.copy_(data)
            DSF.copy_(_alloc.mn_major_view(storage, A.shape[0]))
        else:
            ops.gemm_nt_out(A, SFA, B, SFB, D, DSF, fmt, rule, layout)
        return
    _C.gemm_nt(A, SFA, B, SFB, D, DSF, fmt, rule, layout, stream, _validate_only, bool(pdl))


def fp8_gemm_nt_mxfp8out(a, b, d_fp8, d_sf, *, scale_rule="rceil", scale_layout="compact", stream=None, pdl=False):
    """The seed's name: fp8_gemm_nt with MXFP8 output (e4m3 [M, N] + e8m0 scales, one per 32 of a row)."""
    fp8_gemm_nt(a, b, (d_fp8, d_sf), out_format="mxfp8", scale_rule=scale_rule, scale_layout=scale_layout,
                stream=stream, pdl=pdl)


def gemm_nt(a, b, *, out_format="bf16", scale_rule="rceil", scale_layout="compact", stream=None):
    """Allocating fp8_gemm_nt: returns the bf16 [M, N] tensor, or ``(data, scales)`` for a quantized format."""
    A, SFA = _pair(a, "a")
    B, SFB = _pair(b, "b")
    fmt = _F.out_format(out_format)
    rule, layout = _F.scale_rule(scale_rule), _F.scale_layout(scale_layout)
    if _compiling():
        ops = _ops()
        if fmt == _F.BF16:
            return ops.gemm_nt_bf16(A, SFA, B, SFB)
        data, storage = ops.gemm_nt(A, SFA, B, SFB, fmt, rule, layout)
        return data, (_alloc.mn_major_view(storage, A.shape[0]) if _F.scale_is_float(fmt) else storage)
    M, N = A.shape[0], B.shape[0]
    data, _, sf = _alloc.output(A, fmt, layout, M, N)
    _C.gemm_nt(A, SFA, B, SFB, data, sf, fmt, rule, layout, stream, None)
    return data if sf is None else (data, sf)


# ---- M-grouped GEMMs (MoE) -----------------------------------------------------------------------------------------
def m_grouped_fp8_gemm_nt_contiguous(a, b, d, layout, *, out_format=None, scale_rule="rceil",
                                     scale_layout="compact", stream=None, _validate_only=None):
    """M-grouped contiguous GEMM (FORMAT.md §4): a = (A [sum_M, K], SFA), b = (B [G, N, K], SFB [G, ceil(N/128),
    ceil(K/128)]), ``layout`` int32 [sum_M] on the device (group of each row, -1 = padding row; groups start at
    multiples of get_m_alignment()). ``d`` as in fp8_gemm_nt."""
    A, SFA = _pair(a, "a")
    B, SFB = _pair(b, "b")
    D, DSF, fmt = _output(d, out_format)
    rule, lay = _F.scale_rule(scale_rule), _F.scale_layout(scale_layout)
    if _compiling():
        ops = _ops()
        if DSF is None:
            ops.m_grouped_contiguous_bf16_out(A, SFA, B, SFB, D, layout)
        else:  # sum_M is a multiple of 128: g128 scale views have no gaps
            ops.m_grouped_contiguous_out(A, SFA, B, SFB, D, DSF, layout, fmt, rule, lay)
        return
    _C.grouped_contiguous(A, SFA, B, SFB, D, DSF, layout, fmt, rule, lay, stream, _validate_only)


def m_grouped_fp8_gemm_nt_contiguous_mxfp8out(a, b, d_fp8, d_sf, layout, *, scale_rule="rceil",
                                              scale_layout="compact", stream=None):
    """The seed's name: M-grouped contiguous GEMM with MXFP8 output."""
    m_grouped_fp8_gemm_nt_contiguous(a, b, (d_fp8, d_sf), layout, out_format="mxfp8", scale_rule=scale_rule,
                                     scale_layout=scale_layout, stream=stream)


def m_grouped_gemm_nt_contiguous(a, b, layout, *, out_format="bf16", scale_rule="rceil", scale_layout="compact",
                                 stream=None):
    """Allocating m_grouped_fp8_gemm_nt_contiguous."""
    A, SFA = _pair(a, "a")
    B, SFB = _pair(b, "b")
    fmt = _F.out_format(out_format)
    rule, lay = _F.scale_rule(scale_rule), _F.scale_layout(scale_layout)
    if _compiling():
        ops = _ops()
        if fmt == _F.BF16:
            return ops.m_grouped_contiguous_bf16(A, SFA, B, SFB, layout)
        data, storage = ops.m_grouped_contiguous(A, SFA, B, SFB, layout, fmt, rule, lay)
        return data, (_alloc.mn_major_view(storage, A.shape[0]) if _F.scale_is_float(fmt) else storage)
    M, N = A.shape[0], B.shape[1]
    data, _, sf = _alloc.output(A, fmt, lay, M, N)
    _C.grouped_contiguous(A, SFA, B, SFB, data, sf, layout, fmt, rule, lay, stream, None)
    return data if sf is None else (data, sf)


def m_grouped_fp8_gemm_nt_masked(a, b, d, masked_m, expected_m=0, *, out_format=None, scale_rule="rceil",
                                 scale_layout="compact", stream=None, _validate_only=None):
    """M-grouped masked GEMM (decode): a = (A [G, max_m, K], SFA [G, max_m, ceil(K/128)] MN-major per group),
    b = (B [G, N, K], SFB), ``masked_m`` int32 [G] on the device, ``expected_m`` a host hint (0 = max_m).
    ``d``: bf16 [G, max_m, N] or (data [G, max_m, N], scales [G, ...]); rows >= masked_m[g] are not written."""
    A, SFA = _pair(a, "a")
    B, SFB = _pair(b, "b")
    D, DSF, fmt = _output(d, out_format)
    rule, lay = _F.scale_rule(scale_rule), _F.scale_layout(scale_layout)
    if _compiling():
        ops = _ops()
        if DSF is None:
            ops.m_grouped_masked_bf16_out(A, SFA, B, SFB, D, masked_m, expected_m)
        elif _strided_scales(fmt, A.shape[1]):
            data, storage = ops.m_grouped_masked(A, SFA, B, SFB, masked_m, expected_m, fmt, rule, lay)
            D.copy_(data)
            DSF.copy_(_alloc.mn_major_view(storage, A.shape[1]))
        else:
            ops.m_grouped_masked_out(A, SFA, B, SFB, D, DSF, masked_m, expected_m, fmt, rule, lay)
        return
    _C.grouped_masked(A, SFA, B, SFB, D, DSF, masked_m, expected_m, fmt, rule, lay, stream, _validate_only)


def m_grouped_fp8_gemm_nt_masked_mxfp8out(a, b, d_fp8, d_sf, masked_m, expected_m=0, *, scale_rule="rceil",
                                          scale_layout="compact", stream=None):
    """The seed's name: M-grouped masked GEMM with MXFP8 output."""
    m_grouped_fp8_gemm_nt_masked(a, b, (d_fp8, d_sf), masked_m, expected_m, out_format="mxfp8",
                                 scale_rule=scale_rule, scale_layout=scale_layout, stream=stream)


def m_grouped_gemm_nt_masked(a, b, masked_m, expected_m=0, *, out_format="bf16", scale_rule="rceil",
                             scale_layout="compact", stream=None):
    """Allocating m_grouped_fp8_gemm_nt_masked (rows >= masked_m[g] of the result are uninitialized)."""
    A, SFA = _pair(a, "a")
    B, SFB = _pair(b, "b")
    fmt = _F.out_format(out_format)
    rule, lay = _F.scale_rule(scale_rule), _F.scale_layout(scale_layout)
    if _compiling():
        ops = _ops()
        if fmt == _F.BF16:
            return ops.m_grouped_masked_bf16(A, SFA, B, SFB, masked_m, expected_m)
        data, storage = ops.m_grouped_masked(A, SFA, B, SFB, masked_m, expected_m, fmt, rule, lay)
        return data, (_alloc.mn_major_view(storage, A.shape[1]) if _F.scale_is_float(fmt) else storage)
    G, max_m, N = A.shape[0], A.shape[1], B.shape[1]
    data, _, sf = _alloc.output(A, fmt, lay, max_m, N, batch=G)
    _C.grouped_masked(A, SFA, B, SFB, data, sf, masked_m, expected_m, fmt, rule, lay, stream, None)
    return data if sf is None else (data, sf)


# ---- quantizers ----------------------------------------------------------------------------------------------------
def quantize_into(x, d_fp8, d_sf, *, out_format="mxfp8", scale_rule="rceil", scale_layout="compact",
                  columnwise=False, stream=None, _validate_only=None):
    """Quantize x (bf16 or float32 [M, N]) into preallocated (d_fp8, d_sf), by the rules of the fused epilogues
    (byte-identical for the same FP32 input). columnwise=True quantizes x^T: d_fp8 is [N, M], groups along M."""
    fmt = _F.out_format(out_format)
    rule, lay = _F.scale_rule(scale_rule), _F.scale_layout(scale_layout)
    if _compiling():
        rows = x.shape[1] if columnwise else x.shape[0]
        if _strided_scales(fmt, rows):
            data, storage = _ops().quantize(x, fmt, rule, lay, bool(columnwise))
            d_fp8.copy_(data)
            d_sf.copy_(_alloc.mn_major_view(storage, rows))
        else:
            _ops().quantize_out(x, d_fp8, d_sf, fmt, rule, lay, bool(columnwise))
        return
    _C.quantize(x, d_fp8, d_sf, fmt, rule, lay, bool(columnwise), stream, _validate_only)


def quantize(x, *, out_format="mxfp8", scale_rule="rceil", scale_layout="compact", columnwise=False, stream=None):
    """Allocating quantizer: returns (data e4m3 [M, N] (or [N, M] columnwise), scales)."""
    fmt = _F.out_format(out_format)
    rule, lay = _F.scale_rule(scale_rule), _F.scale_layout(scale_layout)
    rows, cols = (x.shape[1], x.shape[0]) if columnwise else (x.shape[0], x.shape[1])
    if _compiling():
        data, storage = _ops().quantize(x, fmt, rule, lay, bool(columnwise))
        return data, (_alloc.mn_major_view(storage, rows) if _F.scale_is_float(fmt) else storage)
    if fmt == _F.BF16:
        raise ValueError("quantize: out_format='bf16' is not a quantized format")
    data, _, sf = _alloc.output(x, fmt, lay, rows, cols)
    _C.quantize(x, data, sf, fmt, rule, lay, bool(columnwise), stream, None)
    return data, sf


# ---- SFA layout helpers --------------------------------------------------------------------------------------------
def transform_sfa_to_mn_major(src, dst, *, stream=None):
    """Row-major float32 [M, kb] scales -> the preallocated MN-major ``dst`` (see empty_sfa), padding zeroed."""
    if _compiling():
        if src.shape[0] % 4:  # see _strided_scales
            dst.copy_(_alloc.mn_major_view(_ops().transform_sfa(src), src.shape[0]))
        else:
            _ops().transform_sfa_out(src, dst)
        return
    _C.transform_sfa_to_mn_major(src, dst, stream)


def empty_sfa(M, kblocks, *, like):
    """An uninitialized float32 MN-major scale tensor [M, kblocks] (strides (1, pad(M,4))) on ``like``'s device:
    the SFA layout (FORMAT.md §1), also the layout of g128 output scales."""
    return _alloc.mn_major_view(_alloc.empty(like, (kblocks, _F.pad(M, 4)), "f32"), M)


def get_mn_major_sfa(sf, *, stream=None):
    """Row-major float32 [M, ceil(K/128)] per-1x128 scales -> a new MN-major SFA tensor (the layout A needs)."""
    if _compiling():
        return _alloc.mn_major_view(_ops().transform_sfa(sf), sf.shape[0])
    dst = empty_sfa(sf.shape[0], sf.shape[1], like=sf)
    _C.transform_sfa_to_mn_major(sf, dst, stream)
    return dst


get_mn_major_tma_aligned_tensor = get_mn_major_sfa  # DeepGEMM's name for the same helper


# ---- small queries -------------------------------------------------------------------------------------------------
def get_m_alignment():
    """Row alignment of every group in the M-grouped contiguous layout (128)."""
    return _C.get_m_alignment()


def group_size(out_format):
    """Elements per scale: 32 for mxfp8, 128 for g128_*, 0 for bf16."""
    return _C.group_size(_F.out_format(out_format))


def scale_shape(out_format, rows, cols, *, scale_layout="compact"):
    """Shape of the scale buffer the allocating functions create for a [rows, cols] output (the storage shape;
    g128 scales are handed out as its MN-major view [rows, ceil(cols/128)])."""
    return _F.scale_storage_shape(_F.out_format(out_format), _F.scale_layout(scale_layout), rows, cols)


def device_info():
    """(cc_major, cc_minor, num_sms) of the current CUDA device; raises UnsupportedError without one."""
    return _C.device_info()


def is_supported():
    """True when the current CUDA device can run mxgemm's kernels (compute capability 9.0)."""
    try:
        major, minor, _ = _C.device_info()
    except (UnsupportedError, CudaError):
        return False
    return (major, minor) == (9, 0)


# ---- stream of non-torch frameworks --------------------------------------------------------------------------------
def _stream_of(obj):
    if type(obj).__module__.startswith("cupy"):
        import cupy

        return cupy.cuda.get_current_stream().ptr
    return None


_C._register_stream_resolver(_stream_of)

from . import reference  # noqa: E402,F401  (CPU only, NumPy)
from . import validate  # noqa: E402,F401

if "torch" in sys.modules:
    from . import _torch

    _torch.setup()
