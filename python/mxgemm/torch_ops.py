"""mxgemm as torch.library ops (namespace ``torch.ops.mxgemm``), for torch.compile, torch.export and CUDA graphs.

Imported by mxgemm._torch.setup() (only when torch is importable); the public functions of ``mxgemm`` call these
ops while torch.compile traces them and call the extension directly in eager mode (less host overhead).

Two ops per entry point: a functional one that allocates and returns its outputs (what torch.compile prefers)
and an ``*_out`` one that writes preallocated outputs, declared as mutated (``Tensor(a!)``). Both have a CUDA
implementation (the extension) and a fake implementation (shapes only). Quantized functional ops return the
scale *storage* ([ceil(N/128), pad(M,4)] for g128); mxgemm's wrappers turn it into the MN-major view.

    gemm_nt(a, sfa, b, sfb, out_format, scale_rule, scale_layout) -> (data, scale_storage)
    gemm_nt_bf16(a, sfa, b, sfb) -> d
    gemm_nt_out(a, sfa, b, sfb, d!, d_sf!, out_format, scale_rule, scale_layout)
    gemm_nt_bf16_out(a, sfa, b, sfb, d!)
    m_grouped_contiguous[_bf16][_out](..., layout, ...)   m_grouped_masked[_bf16][_out](..., masked_m, expected_m, ...)
    quantize(x, out_format, scale_rule, scale_layout, columnwise) -> (data, scale_storage)
    quantize_out(x, d!, d_sf!, out_format, scale_rule, scale_layout, columnwise)
    transform_sfa(src) -> storage [kb, pad(M,4)]        transform_sfa_out(src, dst!)
"""
import torch

from . import _alloc
from . import _formats as F
from . import _C

NAMESPACE = "mxgemm"
# Tests only (python/tests/test_torch_cpu.py): a (cc_major, cc_minor, num_sms) tuple makes every implementation
# validate its arguments against that device instead of launching, so dispatch, fake implementations, opcheck and
# torch.compile can be exercised on CPU tensors without a GPU. None (always, outside those tests) launches.
DRY_RUN_DEVICE = None
lib = torch.library.Library(NAMESPACE, "DEF")

_Q = "int out_format, int scale_rule, int scale_layout"


IMPLS = {}  # op name -> CUDA implementation


DRY_FILL = 3  # what a dry run writes into every output, so that tests can follow the writes through compile


def _dry_fill(*outs):
    """Dry run (tests): nothing was launched; write DRY_FILL into the outputs instead (deterministic contents)."""
    if DRY_RUN_DEVICE is not None:
        for t in outs:
            if t is not None:
                t.view(torch.uint8).fill_(DRY_FILL) if t.element_size() == 1 else t.fill_(DRY_FILL)


def _define(schema, impl, fake):
    name = schema.split("(", 1)[0]
    IMPLS[name] = impl
    lib.define(schema)
    lib.impl(name, impl, "CUDA")
    torch.library.register_fake(f"{NAMESPACE}::{name}", fake, lib=lib)


def _need_quantized(fmt, op):
    if fmt == F.BF16:
        raise ValueError(f"mxgemm::{op}: out_format bf16 has its own op ({op}_bf16)")


# ---- dense ---------------------------------------------------------------------------------------------------------
def _gemm_alloc(a, b, fmt, layout):
    return _alloc.output(a, fmt, layout, a.shape[0], b.shape[0])


def _gemm_nt(a, sfa, b, sfb, out_format, scale_rule, scale_layout):
    _need_quantized(out_format, "gemm_nt")
    data, storage, view = _gemm_alloc(a, b, out_format, scale_layout)
    _C.gemm_nt(a, sfa, b, sfb, data, view, out_format, scale_rule, scale_layout, None, DRY_RUN_DEVICE)
    _dry_fill(data, storage)
    return data, storage


def _gemm_nt_fake(a, sfa, b, sfb, out_format, scale_rule, scale_layout):
    _need_quantized(out_format, "gemm_nt")
    data, storage, _ = _gemm_alloc(a, b, out_format, scale_layout)
    return data, storage


def _gemm_nt_bf16(a, sfa, b, sfb):
    d = _gemm_alloc(a, b, F.BF16, 0)[0]
    _C.gemm_nt(a, sfa, b, sfb, d, None, F.BF16, 0, 0, None, DRY_RUN_DEVICE)
    _dry_fill(d)
    return d


def _gemm_nt_bf16_fake(a, sfa, b, sfb):
    return _gemm_alloc(a, b, F.BF16, 0)[0]


def _gemm_nt_out(a, sfa, b, sfb, d, d_sf, out_format, scale_rule, scale_layout):
    _C.gemm_nt(a, sfa, b, sfb, d, d_sf, out_format, scale_rule, scale_layout, None, DRY_RUN_DEVICE)
    _dry_fill(d, d_sf)


def _gemm_nt_bf16_out(a, sfa, b, sfb, d):
    _C.gemm_nt(a, sfa, b, sfb, d, None, F.BF16, 0, 0, None, DRY_RUN_DEVICE)
    _dry_fill(d)


def _none(*args):
    return None


_define(f"gemm_nt(Tensor a, Tensor sfa, Tensor b, Tensor sfb, {_Q}) -> (Tensor, Tensor)", _gemm_nt, _gemm_nt_fake)
_define("gemm_nt_bf16(Tensor a, Tensor sfa, Tensor b, Tensor sfb) -> Tensor", _gemm_nt_bf16, _gemm_nt_bf16_fake)
_define(f"gemm_nt_out(Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor(a!) d, Tensor(b!) d_sf, {_Q}) -> ()",
        _gemm_nt_out, _none)
_define("gemm_nt_bf16_out(Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor(a!) d) -> ()", _gemm_nt_bf16_out, _none)


# ---- M-grouped contiguous ------------------------------------------------------------------------------------------
def _contig_alloc(a, b, fmt, layout):
    return _alloc.output(a, fmt, layout, a.shape[0], b.shape[1])


def _m_contig(a, sfa, b, sfb, layout, out_format, scale_rule, scale_layout):
    _need_quantized(out_format, "m_grouped_contiguous")
    data, storage, view = _contig_alloc(a, b, out_format, scale_layout)
    _C.grouped_contiguous(a, sfa, b, sfb, data, view, layout, out_format, scale_rule, scale_layout, None,
                          DRY_RUN_DEVICE)
    _dry_fill(data, storage)
    return data, storage


def _m_contig_fake(a, sfa, b, sfb, layout, out_format, scale_rule, scale_layout):
    _need_quantized(out_format, "m_grouped_contiguous")
    data, storage, _ = _contig_alloc(a, b, out_format, scale_layout)
    return data, storage


def _m_contig_bf16(a, sfa, b, sfb, layout):
    d = _contig_alloc(a, b, F.BF16, 0)[0]
    _C.grouped_contiguous(a, sfa, b, sfb, d, None, layout, F.BF16, 0, 0, None, DRY_RUN_DEVICE)
    _dry_fill(d)
    return d


def _m_contig_bf16_fake(a, sfa, b, sfb, layout):
    return _contig_alloc(a, b, F.BF16, 0)[0]


def _m_contig_out(a, sfa, b, sfb, d, d_sf, layout, out_format, scale_rule, scale_layout):
    _C.grouped_contiguous(a, sfa, b, sfb, d, d_sf, layout, out_format, scale_rule, scale_layout, None,
                          DRY_RUN_DEVICE)
    _dry_fill(d, d_sf)


def _m_contig_bf16_out(a, sfa, b, sfb, d, layout):
    _C.grouped_contiguous(a, sfa, b, sfb, d, None, layout, F.BF16, 0, 0, None, DRY_RUN_DEVICE)
    _dry_fill(d)


_define(f"m_grouped_contiguous(Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor layout, {_Q}) -> (Tensor, Tensor)",
        _m_contig, _m_contig_fake)
_define("m_grouped_contiguous_bf16(Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor layout) -> Tensor",
        _m_contig_bf16, _m_contig_bf16_fake)
_define(f"m_grouped_contiguous_out(Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor(a!) d, Tensor(b!) d_sf, "
        f"Tensor layout, {_Q}) -> ()", _m_contig_out, _none)
_define("m_grouped_contiguous_bf16_out(Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor(a!) d, Tensor layout) -> ()",
        _m_contig_bf16_out, _none)


# ---- M-grouped masked ----------------------------------------------------------------------------------------------
def _masked_alloc(a, b, fmt, layout):
    return _alloc.output(a, fmt, layout, a.shape[1], b.shape[1], batch=a.shape[0])


def _m_masked(a, sfa, b, sfb, masked_m, expected_m, out_format, scale_rule, scale_layout):
    _need_quantized(out_format, "m_grouped_masked")
    data, storage, view = _masked_alloc(a, b, out_format, scale_layout)
    _C.grouped_masked(a, sfa, b, sfb, data, view, masked_m, expected_m, out_format, scale_rule, scale_layout, None,
                      DRY_RUN_DEVICE)
    _dry_fill(data, storage)
    return data, storage


def _m_masked_fake(a, sfa, b, sfb, masked_m, expected_m, out_format, scale_rule, scale_layout):
    _need_quantized(out_format, "m_grouped_masked")
    data, storage, _ = _masked_alloc(a, b, out_format, scale_layout)
    return data, storage


def _m_masked_bf16(a, sfa, b, sfb, masked_m, expected_m):
    d = _masked_alloc(a, b, F.BF16, 0)[0]
    _C.grouped_masked(a, sfa, b, sfb, d, None, masked_m, expected_m, F.BF16, 0, 0, None, DRY_RUN_DEVICE)
    _dry_fill(d)
    return d


def _m_masked_bf16_fake(a, sfa, b, sfb, masked_m, expected_m):
    return _masked_alloc(a, b, F.BF16, 0)[0]


def _m_masked_out(a, sfa, b, sfb, d, d_sf, masked_m, expected_m, out_format, scale_rule, scale_layout):
    _C.grouped_masked(a, sfa, b, sfb, d, d_sf, masked_m, expected_m, out_format, scale_rule, scale_layout, None,
                      DRY_RUN_DEVICE)
    _dry_fill(d, d_sf)


def _m_masked_bf16_out(a, sfa, b, sfb, d, masked_m, expected_m):
    _C.grouped_masked(a, sfa, b, sfb, d, None, masked_m, expected_m, F.BF16, 0, 0, None, DRY_RUN_DEVICE)
    _dry_fill(d)


_define(f"m_grouped_masked(Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor masked_m, int expected_m, {_Q}) "
        "-> (Tensor, Tensor)", _m_masked, _m_masked_fake)
_define("m_grouped_masked_bf16(Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor masked_m, int expected_m) -> Tensor",
        _m_masked_bf16, _m_masked_bf16_fake)
_define(f"m_grouped_masked_out(Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor(a!) d, Tensor(b!) d_sf, "
        f"Tensor masked_m, int expected_m, {_Q}) -> ()", _m_masked_out, _none)
_define("m_grouped_masked_bf16_out(Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor(a!) d, Tensor masked_m, "
        "int expected_m) -> ()", _m_masked_bf16_out, _none)


# ---- quantizer and SFA transform -----------------------------------------------------------------------------------
def _quant_alloc(x, fmt, layout, columnwise):
    rows, cols = (x.shape[1], x.shape[0]) if columnwise else (x.shape[0], x.shape[1])
    return _alloc.output(x, fmt, layout, rows, cols)


def _quant(x, out_format, scale_rule, scale_layout, columnwise):
    _need_quantized(out_format, "quantize")
    data, storage, view = _quant_alloc(x, out_format, scale_layout, columnwise)
    _C.quantize(x, data, view, out_format, scale_rule, scale_layout, columnwise, None, DRY_RUN_DEVICE)
    _dry_fill(data, storage)
    return data, storage


def _quant_fake(x, out_format, scale_rule, scale_layout, columnwise):
    _need_quantized(out_format, "quantize")
    data, storage, _ = _quant_alloc(x, out_format, scale_layout, columnwise)
    return data, storage


def _quant_out(x, d, d_sf, out_format, scale_rule, scale_layout, columnwise):
    _C.quantize(x, d, d_sf, out_format, scale_rule, scale_layout, columnwise, None, DRY_RUN_DEVICE)
    _dry_fill(d, d_sf)


_define(f"quantize(Tensor x, {_Q}, bool columnwise) -> (Tensor, Tensor)", _quant, _quant_fake)
_define(f"quantize_out(Tensor x, Tensor(a!) d, Tensor(b!) d_sf, {_Q}, bool columnwise) -> ()", _quant_out, _none)


def _transform_call(src, dst):
    _C.transform_sfa_to_mn_major(src, dst, None, DRY_RUN_DEVICE)


def _sfa_storage(src):
    return torch.empty((src.shape[1], F.pad(src.shape[0], 4)), dtype=torch.float32, device=src.device)


def _transform(src):
    storage = _sfa_storage(src)
    _transform_call(src, _alloc.mn_major_view(storage, src.shape[0]))
    _dry_fill(storage)
    return storage


def _transform_fake(src):
    return _sfa_storage(src)


def _transform_out(src, dst):
    _transform_call(src, dst)
    _dry_fill(dst)


_define("transform_sfa(Tensor src) -> Tensor", _transform, _transform_fake)
_define("transform_sfa_out(Tensor src, Tensor(a!) dst) -> ()", _transform_out, _none)

OPS = list(IMPLS)

# `import mxgemm.torch_ops` on its own also sets up the rest of the torch integration (fast path, compile hook).
from . import _torch as _setup  # noqa: E402

_setup.setup()
