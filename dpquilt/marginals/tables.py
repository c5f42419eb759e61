"""Count tables with named axes: summing onto columns, and sums and broadcasts over large tables, fast.

A marginal is a table whose axes are named by a clique's columns; :func:`marginalise`
sums one onto some of its columns. Estimation reads marginals out of junction-tree
nodes and multiplies small factors into them thousands of times; numpy's
``sum(axis=...)`` over several strided axes of a large table is up to 20-30 times
slower than it needs to be, and its broadcasting of a small factor runs in loops as
short as the last axis, so such operations in :mod:`dpquilt.graphical` go through
:func:`sum_out` and :func:`widen`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["marginalise", "sum_onto", "sum_out", "widen"]

Clique = tuple[str, ...]

SMALL_TABLE = 1 << 15  # cells below which numpy's own sum is fastest (its overhead is lowest)
WIDE_RUN = 64  # cells of the innermost run a broadcast factor is widened to


def sum_out(table: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """``table.sum(axis=axes)``, fast on large tables.

    numpy reduces several strided axes at once slowly: on a 725,760-cell AIM node,
    keeping the first, fifth and last of seven axes took 20-30 ms with
    ``sum(axis=...)`` (about the same with ``einsum``). Here each run of adjacent
    summed axes is merged into one (a free reshape) and the runs are summed one at a
    time from the outermost in: each reduction then adds large contiguous blocks, and
    the ones with short inner blocks come last, on a table already shrunk (about 1 ms
    on that node).

    Examples
    --------
    >>> table = np.arange(24.0).reshape(2, 3, 4)
    >>> bool(np.array_equal(sum_out(table, [0, 2]), table.sum(axis=(0, 2))))
    True
    """
    if not len(axes):
        return table
    if table.size <= SMALL_TABLE:
        return table.sum(axis=tuple(axes))
    summed = set(int(a) % table.ndim for a in axes)
    dims: list[int] = []
    is_summed: list[bool] = []
    kept_shape: list[int] = []
    for axis, n in enumerate(table.shape):
        if dims and is_summed[-1] == (axis in summed):
            dims[-1] *= n
        else:
            dims.append(n)
            is_summed.append(axis in summed)
        if axis not in summed:
            kept_shape.append(n)
    outer = 1
    inner = int(np.prod(dims))
    for n, flag in zip(dims, is_summed):
        inner //= n
        if flag:
            table = _sum_middle(table.reshape(outer, n, inner))
        else:
            outer *= n
    return table.reshape(kept_shape)


def _sum_middle(table: np.ndarray) -> np.ndarray:
    """Sum a contiguous ``(outer, m, inner)`` table over its middle axis, as a matrix
    product with ones: numpy's own reduction is slow when ``inner`` is small (11 ms
    for (11340, 32, 2), against 1 ms for the product)."""
    outer, m, inner = table.shape
    if inner == 1 and m <= 8:  # a short last axis: add its strided slices
        rows = table.reshape(outer, m)
        out = rows[:, 0].copy()
        for j in range(1, m):
            out += rows[:, j]
        return out
    # ones in a float table's precision: float64 ones would copy a float32 table to float64 first
    ones = np.ones(m, dtype=table.dtype if table.dtype.kind == "f" else np.float64)
    if inner == 1:
        return table.reshape(outer, m) @ ones
    if inner >= 256:  # long contiguous blocks: numpy adds them at memory speed
        return table.sum(axis=1)
    return np.matmul(ones.reshape(1, m), table).reshape(outer, inner)


def widen(factor: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``factor`` (broadcastable to ``shape``) repeated over the trailing axes of ``shape``
    until its innermost run has at least ``WIDE_RUN`` cells, so that multiplying or
    adding it into a table of ``shape`` runs in long inner loops.

    numpy broadcasts a small factor against a large table in loops as short as the
    table's last axis (often 2 cells in AIM's models), about 2-3 times slower than
    against the widened factor, which costs little to build when it stays well under
    the table's size (else the factor is returned as it is).

    Examples
    --------
    >>> widen(np.ones((4, 1, 1)), (4, 300, 100)).shape  # an inner run of 100 cells, not 1
    (4, 1, 100)
    >>> widen(np.ones((4, 1)), (4, 3)).shape  # a small table: returned as it is
    (4, 1)
    """
    shape = tuple(shape)
    cells = math.prod(shape)
    if cells <= SMALL_TABLE or factor.size >= cells // 4:
        return factor
    k, run = len(shape), 1
    while k > 0 and run < WIDE_RUN:
        k -= 1
        run *= shape[k]
    target = tuple(factor.shape[:k]) + shape[k:]
    if target == factor.shape or math.prod(target) > cells // 4:
        return factor
    return np.broadcast_to(factor, target).copy()


def marginalise(table: np.ndarray, attrs: Clique, keep: Clique) -> np.ndarray:
    """Sum ``table`` (axes named by ``attrs``) onto ``keep``, axes in ``keep``'s order.

    Examples
    --------
    >>> marginalise(np.arange(6.0).reshape(2, 3), ("a", "b"), ("b",)).tolist()
    [3.0, 5.0, 7.0]
    >>> marginalise(np.arange(6.0).reshape(2, 3), ("a", "b"), ("b", "a")).shape
    (3, 2)
    """
    summed, kept = sum_onto(table, attrs, keep)
    return np.transpose(summed, [kept.index(a) for a in keep])


def sum_onto(table: np.ndarray, attrs: Clique, keep: Clique) -> tuple[np.ndarray, Clique]:
    """``table`` summed over the axes not in ``keep``, and the names of the axes left (in ``attrs``' order).

    Examples
    --------
    >>> summed, kept = sum_onto(np.ones((2, 3, 4)), ("a", "b", "c"), ("c", "a"))
    >>> summed.shape, kept
    ((2, 4), ('a', 'c'))
    """
    axes = tuple(i for i, a in enumerate(attrs) if a not in keep)
    return (sum_out(table, axes) if axes else table), tuple(a for a in attrs if a in keep)
