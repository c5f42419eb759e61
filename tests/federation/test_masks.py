"""SecAgg+ masks from ChaCha20 keyed by the full secret (replacing Flower's 32-bit seed)."""

import numpy as np
import pytest

pytest.importorskip("flwr")

from dpquilt.federation.masks import install_secure_masks, secure_masks, secure_masks_installed  # noqa: E402


def test_masks_depend_on_every_byte_of_the_seed():
    """Flower's generator XOR-folds the seed to 32 bits: seeds equal after folding collide.
    Ours must not collide on such seeds."""
    a = bytes(range(32))
    # the same 32-bit fold: flip the same bits in two 4-byte words
    b = bytearray(a)
    b[0] ^= 0xFF
    b[4] ^= 0xFF
    from flwr.common.secure_aggregation.secaggplus_utils import pseudo_rand_gen

    shape = [(1000,)]
    assert np.array_equal(pseudo_rand_gen(a, 2**32, shape)[0], pseudo_rand_gen(bytes(b), 2**32, shape)[0])
    assert not np.array_equal(secure_masks(a, 2**32, shape)[0], secure_masks(bytes(b), 2**32, shape)[0])


def test_masks_are_uniform_on_the_range():
    (m,) = secure_masks(b"s" * 32, 2**8, [(200_000,)])
    assert m.min() >= 0 and m.max() == 255
    counts = np.bincount(m, minlength=256)
    expected = m.size / 256
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 255 + 6 * np.sqrt(2 * 255)  # 6 sd above the chi-square mean


def test_shapes_and_determinism():
    out = secure_masks(b"x" * 16, 2**32, [(2, 3), (), (4,)])
    assert [o.shape for o in out] == [(2, 3), (), (4,)]
    again = secure_masks(b"x" * 16, 2**32, [(2, 3), (), (4,)])
    assert all(np.array_equal(x, y) for x, y in zip(out, again))


def test_install_replaces_flowers_generator_on_both_sides():
    install_secure_masks()
    assert secure_masks_installed()


def test_bad_range_is_refused():
    with pytest.raises(ValueError, match="power of two"):
        secure_masks(b"x", 1000, [(3,)])


def test_flowers_client_mod_calls_our_generator_after_install():
    """The client package re-exports a function named like its module: patching must hit the module."""
    import importlib

    install_secure_masks()
    module = importlib.import_module("flwr.client.mod.secure_aggregation.secaggplus_mod")
    assert module.pseudo_rand_gen is secure_masks
    assert module.secaggplus_mod.__globals__["pseudo_rand_gen"] is secure_masks
