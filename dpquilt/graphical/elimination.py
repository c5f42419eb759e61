"""Greedy elimination of a graph's columns: the triangulation behind every junction tree, and its size.

A forest is eliminated leaves first (no fill-in); otherwise each step removes the column
whose elimination clique is smallest in cells (ties by name), the greedy rule of ``mbi``'s
``greedy_order``. The cliques the elimination creates are the junction tree's nodes
(:func:`~dpquilt.graphical.junction.build_junction_tree`), and their cells its size
(:func:`tree_size`, which AIM's size cap reads; :mod:`dpquilt.graphical.extension_sizes`
replays it for many candidate cliques at once). Everything runs on bitmasks of column
positions: AIM sizes thousands of candidate models a round.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable, Mapping, Sequence

__all__ = ["elimination_cliques", "maximal_created", "tree_size"]

Clique = tuple[str, ...]


def elimination_cliques(domain: Mapping[str, int], cliques: Sequence[Clique]) -> tuple[list[str], list[frozenset]]:
    """An elimination order and the cliques it creates (the triangulation's cliques).

    A forest is eliminated leaves first (no fill-in). Otherwise each step removes the
    column whose elimination clique is smallest in cells (ties: by name), the greedy
    rule of mbi's ``greedy_order``.
    """
    names = list(domain)
    order, created = _eliminate(domain, cliques)
    return [names[v] for v in order], [frozenset(names[i] for i in _bits(m)) for m in created]


def _eliminate(domain: Mapping[str, int], cliques: Sequence[Clique]) -> tuple[list[int], list[int]]:
    """:func:`elimination_cliques` on bitmasks of column positions: AIM sizes every
    candidate's model every round, thousands of calls, so this is kept tight."""
    position = {a: i for i, a in enumerate(domain)}
    cells = _cell_counter(tuple(int(k) for k in domain.values()))
    return _greedy_elimination(
        _adjacency_of(position, cliques), set(range(len(position))), cells, _name_ranks(tuple(domain))
    )


def _adjacency_of(position: Mapping[str, int], cliques: Sequence[Clique]) -> list[int]:
    """Each column's neighbours in the graph of ``cliques``, as a bitmask of positions."""
    adjacency = [0] * len(position)
    for c in cliques:
        mask = 0
        for a in c:
            mask |= 1 << position[a]
        for a in c:
            adjacency[position[a]] |= mask
    return [m & ~(1 << i) for i, m in enumerate(adjacency)]


def _greedy_elimination(
    adjacency: list[int],
    remaining: set[int],
    cells: Callable[[int], int],
    rank: Sequence[int],
    snapshot: Callable[[list[int]], None] | None = None,
) -> tuple[list[int], list[int]]:
    """Eliminate the ``remaining`` columns of ``adjacency`` (changed in place) by the greedy rule.

    Leaves first; otherwise the column whose elimination clique is smallest in cells,
    ties by column name, as one integer key (``cells * n + rank``) updated only for the
    neighbours of each eliminated column and kept in heaps (``O(log n)`` a choice). ``snapshot`` (optional) receives a copy of the
    adjacency before each step. Returns the order and the created cliques (bitmasks).
    """
    n = len(adjacency)
    key = [0] * n
    leaves: set[int] = set()
    for i in remaining:
        key[i] = cells(adjacency[i] | (1 << i)) * n + rank[i]
        if adjacency[i] & (adjacency[i] - 1) == 0:  # at most one neighbour
            leaves.add(i)
    # two heaps with lazy deletion: an entry is live while its column remains with that key
    # (and, in the leaf heap, is still a leaf); keys are unique, so the minimum is the rule's choice
    everyone = [(key[i], i) for i in remaining]
    leaf_heap = [(key[i], i) for i in leaves]
    heapq.heapify(everyone)
    heapq.heapify(leaf_heap)
    order: list[int] = []
    created: list[int] = []
    while remaining:
        if snapshot is not None:
            snapshot(list(adjacency))
        heap, live = (leaf_heap, leaves) if leaves else (everyone, remaining)
        while True:
            k, v = heapq.heappop(heap)
            if v in live and key[v] == k:
                break
        nbrs = adjacency[v]
        created.append(nbrs | (1 << v))
        for i in _bits(nbrs):
            adjacency[i] = (adjacency[i] | nbrs) & ~(1 << i) & ~(1 << v)
            key[i] = cells(adjacency[i] | (1 << i)) * n + rank[i]
            heapq.heappush(everyone, (key[i], i))
            if adjacency[i] & (adjacency[i] - 1) == 0:
                leaves.add(i)
                heapq.heappush(leaf_heap, (key[i], i))
            else:
                leaves.discard(i)
        remaining.discard(v)
        leaves.discard(v)
        order.append(v)
    return order, created


@functools.lru_cache(maxsize=64)
def _cell_counter(sizes: tuple[int, ...]):
    """``cells(mask)``: the product of ``sizes`` over the bits of ``mask``, by one table
    lookup per byte of the mask."""
    tables = []
    for start in range(0, len(sizes), 8):
        chunk = sizes[start : start + 8]
        table = [1] * (1 << len(chunk))
        for b in range(1, len(table)):
            low = (b & -b).bit_length() - 1
            table[b] = table[b & (b - 1)] * chunk[low]
        tables.append(table)
    if len(tables) == 1:
        only = tables[0]
        return only.__getitem__
    if len(tables) == 2:
        first, second = tables
        return lambda mask: first[mask & 255] * second[mask >> 8]

    def cells(mask: int) -> int:
        out = 1
        for table in tables:
            out *= table[mask & 255]
            mask >>= 8
        return out

    return cells


@functools.lru_cache(maxsize=64)
def _name_ranks(names: tuple[str, ...]) -> list[int]:
    """Each column's position in name order (the tie-break of the greedy rule)."""
    ordered = {a: k for k, a in enumerate(sorted(names))}
    return [ordered[a] for a in names]


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _cells(domain: Mapping[str, int], attrs) -> int:
    out = 1
    for a in attrs:
        out *= domain[a]
    return out


def tree_size(domain: Mapping[str, int], cliques: Sequence[Clique]) -> int:
    """Cells in the junction tree of ``cliques`` (sum over its nodes).

    Examples
    --------
    >>> d = {"a": 2, "b": 3, "c": 4}
    >>> tree_size(d, [("a", "b"), ("b", "c")]), tree_size(d, [("a", "b"), ("b", "c"), ("a", "c")])  # 6 + 12; abc
    (18, 24)
    """
    order, created = _eliminate(domain, cliques)
    cells = _cell_counter(tuple(int(k) for k in domain.values()))
    return sum(cells(m) for m, maximal in zip(created, maximal_created(order, created)) if maximal)


def maximal_created(order: Sequence[int], created: Sequence[int]) -> list[bool]:
    """Which cliques of an elimination are maximal (the junction tree's nodes).

    The clique created by eliminating ``v`` holds ``v``, so only a clique created
    earlier, and holding ``v``, can contain it.
    """
    holding: dict[int, list[int]] = {}
    out = []
    for v, m in zip(order, created):
        out.append(not any(m & e == m for e in holding.get(v, ())))
        for u in _bits(m):
            holding.setdefault(u, []).append(m)
    return out
