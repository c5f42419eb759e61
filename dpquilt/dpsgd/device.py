"""Which PyTorch device a backend trains and samples on."""

from __future__ import annotations

__all__ = ["resolve_device"]


def resolve_device(device: str = "auto"):
    """``"auto"``: the first CUDA device when PyTorch sees one, else the CPU; otherwise
    the named device, checked to exist.

    Examples
    --------
    >>> str(resolve_device("cpu"))  # doctest: +SKIP
    'cpu'
    """
    try:
        import torch
    except ImportError as exc:
        raise ImportError("the diffusion backends need PyTorch: pip install 'dpquilt[diffusion]'") from exc
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a PyTorch device; use 'auto', 'cpu' or 'cuda[:N]'") from exc
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (resolved.index or 0) >= count:
            raise ValueError(f"device={device!r} asks for CUDA but PyTorch sees {count} CUDA device(s); use 'auto' or 'cpu'")
    return resolved
