"""The greedy elimination replays of :class:`~dpquilt.graphical.extension_sizes.ExtensionSizes`, compiled.

AIM sizes every candidate's model every round; on a 47-column table that is about 17,000
replays of the greedy elimination a round, each some 36 steps of bitmask work, which
took 3-4 s a round in Python. :func:`replayed_cells` runs one replay as a Numba kernel
on 64-bit masks (tables of at most 64 columns), with the same rule, ties and maximality
test as :func:`~dpquilt.graphical.elimination._greedy_elimination` and
:meth:`ExtensionSizes._replay <dpquilt.graphical.extension_sizes.ExtensionSizes>`
(tested against them). :func:`extension_cells` sizes a whole round's candidates in one
call, each as :meth:`ExtensionSizes.__call__ <dpquilt.graphical.extension_sizes.ExtensionSizes>`
would (the Python around each replay had cost three times the replay). Cell counts are
summed in float64 and exact below ``2**53``; a replay whose cliques reach
:data:`EXACT_CELLS` returns ``-1`` and is done in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

__all__ = ["EXACT_CELLS", "MAX_COLUMNS", "byte_tables", "extension_cells", "replayed_cells"]

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


@numba.njit(cache=True)
def extension_cells(
    candidates, snapshots, step, component, steps_ptr, prefix_steps, cells_ptr, prefix_cells, base,
    tables, rank, holding_ptr, holding_step, holding_mask,
):  # pragma: no cover - compiled; tested through ExtensionSizes.many against its per-candidate sizes
    """The cells of the model of the shared graph plus each candidate (rows of column
    positions, ``-1`` padded), as :meth:`ExtensionSizes.__call__
    <dpquilt.graphical.extension_sizes.ExtensionSizes>` finds them one at a time: from the
    first step of the shared run that eliminates an end of a missing edge, the touched
    components' cliques before it (component ``c``'s steps are
    ``prefix_steps[steps_ptr[c]:steps_ptr[c + 1]]`` and the cells of its maximal cliques
    before each of them, and in all, ``prefix_cells[cells_ptr[c]:cells_ptr[c + 1]]``)
    plus a replay of the rest.
    ``-1.0`` where a count may round in float64 (the caller sizes those in Python).
    """
    one = np.uint64(1)
    n = step.shape[0]
    width = candidates.shape[1]
    out = np.empty(candidates.shape[0])
    missing = np.empty((width * (width - 1) // 2, 2), dtype=np.int64)
    alive = np.zeros(n, dtype=np.bool_)
    touched = np.zeros(n, dtype=np.bool_)
    for k in range(candidates.shape[0]):
        start = n
        for i in range(width):
            v = candidates[k, i]
            if v >= 0 and step[v] < start:
                start = step[v]
        count = 0
        for i in range(width):
            a = candidates[k, i]
            if a < 0:
                continue
            for j in range(i + 1, width):
                b = candidates[k, j]
                if b >= 0 and not (snapshots[start, a] >> np.uint64(b)) & one:
                    missing[count, 0] = a
                    missing[count, 1] = b
                    count += 1
        while count > 0:  # until an end of a missing edge is eliminated, the runs agree: start there
            later = n
            for m in range(count):
                first = min(step[missing[m, 0]], step[missing[m, 1]])
                if first < later:
                    later = first
            if later == start:
                break
            start = later
            kept = 0
            for m in range(count):
                a, b = missing[m, 0], missing[m, 1]
                if not (snapshots[start, a] >> np.uint64(b)) & one:
                    missing[kept, 0] = a
                    missing[kept, 1] = b
                    kept += 1
            count = kept
        if count == 0:
            out[k] = base
            continue
        total = base
        for i in range(width):
            v = candidates[k, i]
            if v < 0 or touched[component[v]]:
                continue
            c = component[v]
            touched[c] = True
            lo, hi = steps_ptr[c], steps_ptr[c + 1]
            before = 0
            while lo + before < hi and prefix_steps[lo + before] < start:
                before += 1
            total += prefix_cells[cells_ptr[c] + before] - prefix_cells[cells_ptr[c + 1] - 1]
        for v in range(n):
            alive[v] = step[v] >= start and touched[component[v]]
        replayed = replayed_cells(
            snapshots[start], missing[:count], alive, tables, rank, start, holding_ptr, holding_step, holding_mask
        )
        for i in range(width):
            v = candidates[k, i]
            if v >= 0:
                touched[component[v]] = False
        out[k] = -1.0 if replayed < 0 or total + replayed >= EXACT_CELLS else total + replayed  # the sum must stay exact too
    return out
