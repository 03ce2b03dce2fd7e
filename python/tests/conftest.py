import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


def _gpu_state():
    """(torch module or None, reason to skip GPU tests or None)."""
    try:
        import torch
    except ImportError:
        return None, "torch is not installed"
    if not torch.cuda.is_available():
        return torch, "no CUDA device"
    if torch.cuda.get_device_capability() != (9, 0):
        return torch, f"GPU is {torch.cuda.get_device_name()}, mxgemm needs SM90"
    return torch, None


def pytest_collection_modifyitems(config, items):
    needs_gpu = [it for it in items if it.get_closest_marker("gpu")]
    if not needs_gpu:
        return
    _, reason = _gpu_state()
    if reason:
        for it in needs_gpu:
            it.add_marker(pytest.mark.skip(reason=reason))


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs torch and an SM90 GPU (skipped otherwise)")
