"""Which cliques of a list can be summed from another one in the list."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

__all__ = ["containing_sources", "inside_any"]

#: Maximal cliques up to this many columns are indexed by their subsets (one lookup per clique).
_SUBSETS_UP_TO = 12


def containing_sources(cliques: Sequence[tuple[str, ...]]) -> list[int]:
    """For each clique, the index of a clique of the list that strictly contains it, or -1.

    Every index returned points at a clique whose own entry is -1 (a maximal one), so a
    table for each maximal clique is enough to sum every other clique's table from it.
    Used to project or count once per maximal clique (AIM's candidates and a federated
    scoring request are downward closures, so most cliques have a source). The source is
    the first maximal clique found (largest first, then in list order) that contains the
    clique; maximal cliques are indexed by their subsets (as bit masks of their columns:
    sets of strings cost three times as much on AIM's 17,000 candidates), so each clique
    costs one lookup.

    Examples
    --------
    >>> containing_sources([("a",), ("a", "b"), ("c",), ("b", "c", "d")])
    [1, -1, 3, -1]
    """
    masks = _column_masks(cliques)
    out = [-1] * len(cliques)
    found: dict[int, int] = {}  # maximal clique -> the order in which it was found
    first_container: dict[int, int] = {}  # proper subset's mask -> the first maximal clique found to hold it
    large: list[int] = []  # maximal cliques too large to list their subsets
    for i in sorted(range(len(cliques)), key=lambda j: -len(cliques[j])):
        mask = masks[i]
        holder = first_container.get(mask, -1)
        if large:
            holders = [j for j in large if mask & ~masks[j] == 0 and mask != masks[j]]
            if holder >= 0:
                holders.append(holder)
            holder = min(holders, key=found.__getitem__) if holders else -1
        if holder >= 0:
            out[i] = holder
            continue
        found[i] = len(found)
        if mask.bit_count() > _SUBSETS_UP_TO:
            large.append(i)
            continue
        subset = (mask - 1) & mask  # every non-empty proper subset of the mask's bits
        while subset:
            first_container.setdefault(subset, i)
            subset = (subset - 1) & mask
    return out


def _column_masks(cliques: Sequence[tuple[str, ...]]) -> list[int]:
    """Each clique's columns as the bits of an integer (one bit per column, in order of first use)."""
    bits: dict[str, int] = {}
    masks = []
    for clique in cliques:
        mask = 0
        for a in clique:
            bit = bits.get(a)
            if bit is None:
                bit = bits[a] = 1 << len(bits)
            mask |= bit
        masks.append(mask)
    return masks


def inside_any(cliques: Sequence[tuple[str, ...]]) -> Callable[[tuple[str, ...]], bool]:
    """``inside(r)``: whether ``r`` lies inside one of ``cliques``, by one set lookup.

    Cliques of up to :data:`_SUBSETS_UP_TO` columns are indexed by their subsets (AIM asks
    this of every candidate every round); larger ones are tested one by one.

    Examples
    --------
    >>> inside = inside_any([("a", "b", "c"), ("d",)])
    >>> inside(("c", "a")), inside(("a", "d"))
    (True, False)
    """
    subsets: set[frozenset] = set()
    large = []
    for c in dict.fromkeys(tuple(c) for c in cliques):
        if len(c) > _SUBSETS_UP_TO:
            large.append(frozenset(c))
            continue
        for k in range(1, len(c) + 1):
            subsets.update(frozenset(s) for s in itertools.combinations(c, k))
    return lambda r: frozenset(r) in subsets or any(frozenset(r) <= c for c in large)
