"""Output allocation for the allocating API variants, in the framework of the input (torch or CuPy).

Element kinds: "e4m3" (torch.float8_e4m3fn; CuPy: uint8 bytes), "bf16" (torch.bfloat16; CuPy: uint16 bits),
"u8" (e8m0 scale bytes), "f32". JAX arrays are immutable: pass preallocated torch/CuPy outputs instead.
"""
import sys

from . import _formats as F


def _torch_dtype(torch, kind):
    return {"e4m3": torch.float8_e4m3fn, "bf16": torch.bfloat16, "u8": torch.uint8, "f32": torch.float32}[kind]


def empty(like, shape, kind):
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(like, torch.Tensor):
        return torch.empty(shape, dtype=_torch_dtype(torch, kind), device=like.device)
    if type(like).__module__.startswith("cupy"):
        import cupy

        dt = {"e4m3": cupy.uint8, "bf16": cupy.uint16, "u8": cupy.uint8, "f32": cupy.float32}[kind]
        with cupy.cuda.Device(like.device.id):
            return cupy.empty(shape, dtype=dt)
    raise TypeError(
        f"allocating mxgemm functions need torch or CuPy arrays to allocate the output like, got "
        f"{type(like).__module__}.{type(like).__name__}; pass preallocated outputs (e.g. fp8_gemm_nt(a, b, d))")


def mn_major_view(storage, rows):
    """[.., kb, pad(rows,4)] storage -> its MN-major view [.., rows, kb] (strides (.., 1, pad(rows,4)))."""
    if storage.ndim == 2:
        return storage.T[:rows]
    return storage.swapaxes(1, 2)[:, :rows]


def output(like, fmt, layout, rows, cols, batch=None):
    """Allocate (data, scales_storage, scales_view) for a [batch?, rows, cols] output of format `fmt`."""
    lead = () if batch is None else (batch,)
    if fmt == F.BF16:
        return empty(like, lead + (rows, cols), "bf16"), None, None
    data = empty(like, lead + (rows, cols), "e4m3")
    shape = lead + F.scale_storage_shape(fmt, layout, rows, cols)
    if F.scale_is_float(fmt):
        storage = empty(like, shape, "f32")
        return data, storage, mn_major_view(storage, rows)
    storage = empty(like, shape, "u8")
    return data, storage, storage
