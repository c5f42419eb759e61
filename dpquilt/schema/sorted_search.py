"""Where values fall among a few sorted values (bin edges, point masses), compiled.

``numpy.searchsorted`` runs a binary search whose branches the CPU cannot predict; over
the tens of edges a column has, counting the edges below a value has no branches and
is vectorised by the compiler, 3-5 times faster on millions of values.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["LINEAR_SEARCH_MAX", "search_right", "sorted_position"]


#: Up to this many sorted values are searched by counting those below (no branches: the compiler
#: vectorises it), more by binary search. A 2 M-row column over 33 uneven edges: 11 ms counting,
#: 50-58 ms by binary search (``numpy.searchsorted`` alike), whose branches the CPU cannot predict.
LINEAR_SEARCH_MAX = 128


@numba.njit(cache=True, inline="always")
def sorted_position(values, v, right):  # pragma: no cover - compiled
    """``numpy.searchsorted(values, v, 'right' if right else 'left')`` for sorted ``values``."""
    if values.size <= LINEAR_SEARCH_MAX:
        k = 0
        if right:
            for j in range(values.size):
                k += values[j] <= v
        else:
            for j in range(values.size):
                k += values[j] < v
        return k
    a, b = 0, values.size
    while a < b:
        m = (a + b) // 2
        if values[m] < v or (right and values[m] == v):
            a = m + 1
        else:
            b = m
    return a


@numba.njit(cache=True)
def _search_right(values, x):  # pragma: no cover - compiled
    out = np.empty(x.size, dtype=np.int64)
    for i in range(x.size):
        out[i] = sorted_position(values, x[i], True)
    return out


def search_right(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``numpy.searchsorted(values, x, side="right")`` for sorted float ``values`` and float ``x``
    (NaN sorts last, as in numpy).

    Examples
    --------
    >>> search_right(np.array([0.0, 1.0, 2.0]), np.array([-1.0, 1.0, 1.5, 9.0])).tolist()
    [0, 2, 2, 3]
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = _search_right(values, x)
    nan = np.isnan(x)
    if nan.any():
        out[nan] = values.size
    return out
