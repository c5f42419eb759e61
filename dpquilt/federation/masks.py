"""SecAgg+ masks from a cryptographic stream keyed by the whole shared secret.

Flower's SecAgg+ (1.42) expands each mask seed with ``numpy.random.RandomState`` after
folding the seed to 32 bits by XOR (``secaggplus_utils.pseudo_rand_gen``; upstream issue
adap/flower#7522). A server that sees a masked vector can try all 2^32 folded seeds of
a client's private mask and unmask that client's vector alone, which defeats secure
aggregation. :func:`secure_masks` draws the same shapes from a ChaCha20 keystream whose
256-bit key is ``SHA-256(domain tag || seed)``, so recovering a mask means breaking
ChaCha20 or the key agreement. :func:`install_secure_masks` puts it in place of Flower's
generator in both the client mod and the server workflow; every process that takes
part (the server and each client) must call it, which dpquilt's apps do when built.
Both sides of a pairwise mask derive it from the same key agreement, so masks still
cancel in the sum.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

__all__ = ["install_secure_masks", "secure_masks", "secure_masks_installed"]

_TAG = b"dpquilt secagg+ mask v1"
_NONCE = bytes(16)  # each key is used for exactly one stream, so a fixed nonce is safe


def secure_masks(seed: bytes, num_range: int, dimensions_list: list[tuple[int, ...]]) -> list[np.ndarray]:
    """Masks uniform on ``[0, num_range)`` for each shape, from ChaCha20 keyed by the full seed.

    Parameters
    ----------
    seed : bytes
        A client's private mask seed or a pairwise shared key (any length).
    num_range : int
        The SecAgg+ modulus; a power of two (Flower checks this), at most ``2**62``.
    dimensions_list : list of tuple of int
        Shapes of the arrays to mask, in order.

    Returns
    -------
    list of ndarray of int64

    Examples
    --------
    >>> a = secure_masks(b"k" * 32, 2**32, [(3,), ()])
    >>> [x.shape for x in a], bool((a[0] >= 0).all() and (a[0] < 2**32).all())
    ([(3,), ()], True)
    >>> bool((secure_masks(b"k" * 32, 2**32, [(3,)])[0] == a[0]).all())
    True
    """
    if num_range < 2 or num_range & (num_range - 1) or num_range > 2**62:
        raise ValueError(f"num_range must be a power of two in [2, 2**62], got {num_range!r}")
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    key = hashlib.sha256(_TAG + bytes(seed)).digest()
    sizes = [math.prod(shape) for shape in dimensions_list]
    encryptor = Cipher(algorithms.ChaCha20(key, _NONCE), mode=None).encryptor()
    stream = encryptor.update(bytes(8 * sum(sizes)))
    words = np.frombuffer(stream, dtype=np.uint64) & np.uint64(num_range - 1)
    out, start = [], 0
    for shape, size in zip(dimensions_list, sizes):
        out.append(words[start : start + size].astype(np.int64).reshape(shape))
        start += size
    return out


def install_secure_masks() -> None:
    """Replace Flower's 32-bit-seeded mask generator with :func:`secure_masks` in this process.

    Idempotent. Affects every SecAgg+ client mod and server workflow in the process
    (the generator is a module attribute of Flower's).

    Examples
    --------
    >>> install_secure_masks()
    >>> secure_masks_installed()
    True
    """
    for module in _flower_modules():
        module.pseudo_rand_gen = secure_masks


def secure_masks_installed() -> bool:
    """Whether both Flower modules use :func:`secure_masks` in this process (see :func:`install_secure_masks`)."""
    return all(module.pseudo_rand_gen is secure_masks for module in _flower_modules())


def _flower_modules() -> list:
    """The two Flower modules that call the mask generator (by module path: the client
    package re-exports a function of the same name as its module)."""
    from importlib import import_module

    return [
        import_module("flwr.client.mod.secure_aggregation.secaggplus_mod"),
        import_module("flwr.server.workflow.secure_aggregation.secaggplus_workflow"),
    ]
