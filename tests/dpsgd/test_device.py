"""device='auto' picks CUDA when present, the CPU otherwise; bad names are clear errors."""

import pytest

torch = pytest.importorskip("torch")

from dpquilt.dpsgd.device import resolve_device  # noqa: E402


def test_auto_follows_cuda_availability():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_cpu_is_always_there():
    assert resolve_device("cpu") == torch.device("cpu")


def test_missing_cuda_and_nonsense_are_refused():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="asks for CUDA but PyTorch sees 0"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="is not a PyTorch device"):
        resolve_device("gpu please")
