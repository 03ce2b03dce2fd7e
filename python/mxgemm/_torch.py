"""Set up mxgemm's torch integration (only ever imported when torch is importable and imported).

setup() registers, once:
- the torch fast path of the extension: torch.Tensor, torch's dtype objects and the current-stream getter, so that
  torch tensors are read through data_ptr()/shape/stride() (~0.3 us each) instead of a DLPack export;
- the torch.library ops (mxgemm.torch_ops), which the public functions call while torch.compile traces them;
- mxgemm._compiling = torch.compiler.is_compiling.
No part of this uses PyTorch's C++ ABI.
"""
import sys

_done = False


def setup():
    global _done
    if _done:
        return
    import torch

    mx = sys.modules["mxgemm"]
    names = ["uint8", "int8", "bool", "float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu", "bfloat16", "float16",
             "float32", "float64", "int32", "int64", "uint16"]
    dtypes = {getattr(torch, n): n for n in names if hasattr(torch, n)}
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    if raw is None:  # older torch: the public (slower) path
        def raw(device):
            return torch.cuda.current_stream(device).cuda_stream
    import torch.utils.dlpack

    to_dlpack = getattr(torch.utils.dlpack, "to_dlpack", None)
    mx._C._register_torch(torch.Tensor, dtypes, raw, to_dlpack)
    _done = True
    try:
        from . import torch_ops  # noqa: F401  (registers the torch.library ops)
    except Exception as e:  # an old torch without torch.library.register_fake, say: eager mode still works
        import warnings

        warnings.warn(f"mxgemm: torch.library ops not registered ({type(e).__name__}: {e}); torch.compile of "
                      "mxgemm calls will not work, eager calls do")
        return

    mx._torch_ops = torch.ops.mxgemm
    mx._compiling = torch.compiler.is_compiling
