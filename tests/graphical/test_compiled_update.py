"""The accelerated descent's one-pass iterate update against numpy's three passes."""

import numpy as np

from dpquilt.graphical.compiled_update import move_toward


def numpy_passes(x: np.ndarray, z: np.ndarray, keep: float) -> np.ndarray:
    out = x.copy()
    out -= z
    out *= keep
    out += z
    return out


def test_one_pass_rounds_exactly_as_three(rng):
    for shape in [(7,), (3, 5, 4), (5, 9, 4, 4, 5)]:
        x = rng.random(shape) * 10.0 ** rng.integers(-8, 8, shape)
        z = rng.random(shape) * 10.0 ** rng.integers(-8, 8, shape)
        for keep in (0.0, 1.0, 1.0 - 1e-9, float(rng.random())):
            expected = numpy_passes(x, z, keep)
            got = x.copy()
            move_toward(got, z, keep)
            assert np.array_equal(got, expected)  # bit for bit: no fused multiply-add
            assert keep in (0.0, 1.0) or not np.array_equal(got, x)


def test_views_take_numpy_passes_and_float32_rounds_as_numpy(rng):
    base = rng.random((6, 8))
    z = rng.random((6, 4))
    x = base[:, ::2]  # not contiguous: updated in place through the view
    expected = numpy_passes(x, z, 0.3)
    move_toward(x, z, 0.3)
    assert np.array_equal(base[:, ::2], expected)
    x32, z32 = rng.random(5).astype(np.float32), rng.random(5).astype(np.float32)
    expected32 = numpy_passes(x32, z32, 0.3)
    move_toward(x32, z32, 0.3)
    assert x32.dtype == np.float32 and np.array_equal(x32, expected32)
