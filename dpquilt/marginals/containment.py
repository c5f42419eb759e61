"""Which cliques of a list can be summed from another one in the list."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["containing_sources"]


def containing_sources(cliques: Sequence[tuple[str, ...]]) -> list[int]:
    """For each clique, the index of a clique of the list that strictly contains it, or -1.

    Every index returned points at a clique whose own entry is -1 (a maximal one), so a
    table for each maximal clique is enough to sum every other clique's table from it.
    Used to project or count once per maximal clique (AIM's candidates and a federated
    scoring request are downward closures, so most cliques have a source).

    Examples
    --------
    >>> containing_sources([("a",), ("a", "b"), ("c",), ("b", "c", "d")])
    [1, -1, 3, -1]
    """
    sets = [frozenset(c) for c in cliques]
    out = [-1] * len(cliques)
    maximal: list[int] = []
    for i in sorted(range(len(cliques)), key=lambda j: -len(cliques[j])):
        source = next((j for j in maximal if sets[i] < sets[j]), None)
        if source is None:
            maximal.append(i)
        else:
            out[i] = source
    return out
