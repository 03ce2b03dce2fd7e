"""Import and small queries: CPU only, no torch needed."""
import sys

import pytest

import mxgemm


def test_import_and_names():
    for name in mxgemm.__all__:
        assert hasattr(mxgemm, name), name
    assert mxgemm.OUT_FORMATS == ("bf16", "mxfp8", "g128_fp32", "g128_ue8m0")
    assert mxgemm.SCALE_RULES == ("rceil", "floor")
    assert mxgemm.__version__


def test_torch_not_imported_by_mxgemm():
    # mxgemm must not pull torch in; run in a fresh interpreter so other tests' imports do not interfere.
    import subprocess

    code = "import sys, mxgemm, mxgemm.reference, mxgemm.validate; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_exceptions():
    assert issubclass(mxgemm.UnsupportedError, RuntimeError)
    assert issubclass(mxgemm.CudaError, RuntimeError)
    assert mxgemm.UnsupportedError.__module__ == "mxgemm"


def test_queries():
    assert mxgemm.get_m_alignment() == 128
    assert mxgemm.group_size("mxfp8") == 32
    assert mxgemm.group_size("g128_fp32") == 128
    assert mxgemm.group_size("g128_ue8m0") == 128
    assert mxgemm.group_size("bf16") == 0
    assert mxgemm.scale_shape("mxfp8", 130, 96) == (130, 3)
    assert mxgemm.scale_shape("mxfp8", 130, 96, scale_layout="blocked128x4") == (256, 4)
    assert mxgemm.scale_shape("g128_fp32", 130, 300) == (3, 132)
    with pytest.raises(ValueError, match="out_format"):
        mxgemm.group_size("fp4")
    with pytest.raises(ValueError, match="scale_layout"):
        mxgemm.scale_shape("mxfp8", 1, 32, scale_layout="swizzled")


def test_device_queries_do_not_crash():
    # On a machine without a GPU: is_supported() is False and device_info() raises UnsupportedError.
    ok = mxgemm.is_supported()
    assert isinstance(ok, bool)
    try:
        info = mxgemm.device_info()
    except mxgemm.UnsupportedError as e:
        assert not ok
        assert "CUDA" in str(e)
    else:
        assert len(info) == 3
