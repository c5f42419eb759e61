"""The greedy elimination replays of :class:`~dpquilt.graphical.extension_sizes.ExtensionSizes`, compiled.

AIM sizes every candidate's model every round; on a 47-column table that is about 17,000
replays of the greedy elimination a round, each some 36 steps of bitmask work, which
took 3-4 s a round in Python. :func:`replayed_cells` runs one replay as a Numba kernel
on 64-bit masks (tables of at most 64 columns), with the same rule, ties and maximality
test as :func:`~dpquilt.graphical.elimination._greedy_elimination` and
:meth:`ExtensionSizes._replay <dpquilt.graphical.extension_sizes.ExtensionSizes>`
(tested against them). Cell counts are summed in float64 and exact below ``2**53``; a
replay whose cliques reach :data:`EXACT_CELLS` returns ``-1`` and is done in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

__all__ = ["EXACT_CELLS", "MAX_COLUMNS", "byte_tables", "replayed_cells"]

#: masks are uint64: tables with more columns replay in Python
MAX_COLUMNS = 64
#: cell counts from here on may round in float64: such replays are left to Python's integers
EXACT_CELLS = float(2**52)


def byte_tables(sizes: Sequence[int]) -> np.ndarray:
    """``tables[j, b]``: the product of ``sizes[8 j + i]`` over the bits ``i`` of byte ``b``.

    Examples
    --------
    >>> float(byte_tables([2, 3, 4])[0, 0b101])  # sizes 2 and 4
    8.0
    """
    tables = np.ones((max(1, -(-len(sizes) // 8)), 256))
    for j in range(tables.shape[0]):
        chunk = sizes[8 * j : 8 * j + 8]
        for b in range(1, 256):
            low = (b & -b).bit_length() - 1
            tables[j, b] = tables[j, b & (b - 1)] * (chunk[low] if low < len(chunk) else 1)
    return tables


@numba.njit(cache=True)
def _cells(mask, tables):  # pragma: no cover - compiled
    out = 1.0
    j = 0
    while mask:
        out *= tables[j, mask & np.uint64(255)]
        mask >>= np.uint64(8)
        j += 1
    return out


@numba.njit(cache=True)
def replayed_cells(
    snapshot, missing, remaining, tables, rank, start, holding_ptr, holding_step, holding_mask
):  # pragma: no cover - compiled; tested through ExtensionSizes against tree_size
    """Cells of the maximal cliques that a greedy elimination of ``remaining`` creates from
    the graph ``snapshot`` (uint64 neighbour masks) plus the edges ``missing`` (k x 2).

    A created clique counts unless it lies in an earlier one holding its column: one of
    the replay's, or one the shared run created before step ``start``
    (``holding_mask[holding_ptr[v]:holding_ptr[v + 1]]``, created at ``holding_step``).
    Returns -1.0 when a clique reaches ``EXACT_CELLS`` (the caller replays in Python).
    """
    n = snapshot.shape[0]
    one = np.uint64(1)
    adjacency = snapshot.copy()
    for k in range(missing.shape[0]):
        a, b = missing[k, 0], missing[k, 1]
        adjacency[a] |= one << np.uint64(b)
        adjacency[b] |= one << np.uint64(a)
    alive = remaining.copy()
    cells = np.zeros(n)
    leaf = np.zeros(n, dtype=np.bool_)
    count = 0
    for i in range(n):
        if alive[i]:
            count += 1
            cells[i] = _cells(adjacency[i] | (one << np.uint64(i)), tables)
            a = adjacency[i]
            leaf[i] = (a & (a - one)) == 0
    later = np.zeros((n, n), dtype=np.uint64)
    later_count = np.zeros(n, dtype=np.int64)
    total = 0.0
    for _ in range(count):
        v = -1
        any_leaf = False
        for i in range(n):
            if alive[i] and leaf[i]:
                any_leaf = True
                break
        for i in range(n):  # leaves first, then the smallest clique, ties by name rank
            if not alive[i] or (any_leaf and not leaf[i]):
                continue
            if v < 0 or cells[i] < cells[v] or (cells[i] == cells[v] and rank[i] < rank[v]):
                v = i
        nbrs = adjacency[v]
        created = nbrs | (one << np.uint64(v))
        size = cells[v]
        if size >= EXACT_CELLS:
            return -1.0
        inside = False
        for j in range(holding_ptr[v], holding_ptr[v + 1]):
            if holding_step[j] < start and (created & holding_mask[j]) == created:
                inside = True
                break
        if not inside:
            for j in range(later_count[v]):
                if (created & later[v, j]) == created:
                    inside = True
                    break
        if not inside:
            total += size
        for u in range(n):
            if (created >> np.uint64(u)) & one:
                later[u, later_count[u]] = created
                later_count[u] += 1
        drop_v = ~(one << np.uint64(v))
        for i in range(n):
            if (nbrs >> np.uint64(i)) & one:
                adjacency[i] = (adjacency[i] | nbrs) & ~(one << np.uint64(i)) & drop_v
                cells[i] = _cells(adjacency[i] | (one << np.uint64(i)), tables)
                a = adjacency[i]
                leaf[i] = (a & (a - one)) == 0
        alive[v] = False
    return total
