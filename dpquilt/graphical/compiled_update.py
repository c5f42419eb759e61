"""The accelerated descent's iterate update in one pass over memory, compiled.

Each iteration of :func:`~dpquilt.graphical.accelerated.accelerated_descent` moves the
iterate toward the new point on every junction-tree node, ``x = (1 - theta) x + theta z``,
computed as ``x = (x - z) (1 - theta) + z``. As three in-place numpy operations that
reads and writes every cell of the model three times; late AIM models hold millions of
cells and their fits run at the speed of memory. :func:`move_toward` does the same
arithmetic, operation for operation and with the same rounding (no fused multiply-add),
in one compiled pass: a 2.6 million-cell node took 2.2 ms as three numpy passes and
1.0 ms as one.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["move_toward"]


@numba.njit(cache=True)
def _move_toward_flat(x, z, keep):  # pragma: no cover - compiled; tested against numpy's passes
    for i in range(x.size):
        x[i] = (x[i] - z[i]) * keep + z[i]


def move_toward(x: np.ndarray, z: np.ndarray, keep: float) -> None:
    """``x = (x - z) * keep + z`` in place, rounded as numpy's ``x -= z; x *= keep; x += z``.

    Examples
    --------
    >>> x, z = np.array([1.0, 4.0]), np.array([3.0, 0.0])
    >>> move_toward(x, z, 0.25)
    >>> x.tolist()  # a quarter of the way back from z toward x
    [2.5, 1.0]
    """
    if x.shape == z.shape and x.dtype == z.dtype and x.dtype in (np.float64, np.float32) and x.flags.c_contiguous and z.flags.c_contiguous and x.flags.writeable:
        _move_toward_flat(x.reshape(-1), z.reshape(-1), x.dtype.type(keep))  # in the tables' precision, as numpy's passes
        return
    x -= z
    x *= keep
    x += z
