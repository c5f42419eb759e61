"""The junction-tree size of ``cliques + [r]`` for many candidate cliques ``r`` at once.

AIM (McKenna et al. 2022, Algorithm 2, line 5) keeps a candidate only if the model
with it stays under the size cap, so every round it sizes the junction tree of the
measured cliques plus each candidate: tens of thousands of greedy triangulations on a
wide table. They all start from the same graph, and adding ``r`` changes it only by
the edges among ``r``'s columns. The greedy elimination of
:func:`~dpquilt.graphical.elimination.tree_size` therefore runs once on the measured
graph and is replayed per candidate from the first step where they can differ:

* until it eliminates one of ``r``'s columns, the greedy choices on ``G + r`` are
  those on ``G``: every other column has the same neighbours, ``r``'s columns have
  more (a larger key, never a new leaf), and each fill step adds the same edges;
* at that step, ``G + r`` is ``G``'s state plus those edges of ``r`` that elimination
  has not filled in yet. If there are none, the rest is ``G``'s run and the size is
  ``G``'s; otherwise the elimination continues from that state on the columns left.

A clique created by eliminating ``v`` holds ``v``, so only an earlier clique can
contain it; the maximal cliques of the run are those contained in no earlier one, and
the size is a prefix sum plus the replayed cliques. Columns of different connected
components never share a clique, and the greedy rule picks within a component as if it
were alone (leaves before the rest, then the smallest clique), so only the components
that ``r`` touches are replayed; the others keep their sizes. Exact: the same integers as
:func:`~dpquilt.graphical.elimination.tree_size` (tested against it).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .compiled_replay import EXACT_CELLS, MAX_COLUMNS, byte_tables, extension_cells, replayed_cells
from .elimination import _adjacency_of, _bits, _cell_counter, _greedy_elimination, _name_ranks, maximal_created

__all__ = ["ExtensionSizes", "SizeReuse"]

Clique = tuple[str, ...]


class SizeReuse:
    """What :class:`ExtensionSizes` of a growing sequence of graphs (AIM's rounds) share: a
    small integer naming each component graph seen, and each candidate's growth keyed by the
    candidate and the names of the components it touches. Only the latest graph's
    components are kept: a graph that grows never has an earlier component again.

    Examples
    --------
    >>> reuse = SizeReuse()
    >>> reuse.name_components({0: ((0, 2), (1, 1)), 2: ((2, 0),)})
    {0: 0, 2: 1}
    >>> reuse.growth[((2,), frozenset({1}))] = 5
    >>> reuse.name_components({0: ((0, 6), (1, 5), (2, 3))}), reuse.growth  # components merged: growth dropped
    ({0: 2}, {})
    """

    def __init__(self) -> None:
        self.names: dict[tuple, int] = {}
        self.growth: dict[tuple, int] = {}
        self._fresh = itertools.count()

    def name_components(self, signatures: Mapping[int, tuple]) -> dict[int, int]:
        """Name each component (by its graph, ``signatures[c]``), keeping earlier names, and
        forget names and growth of components the graph no longer has."""
        self.names = {sig: self.names[sig] if sig in self.names else next(self._fresh) for sig in signatures.values()}
        current = set(self.names.values())
        self.growth = {key: g for key, g in self.growth.items() if key[1] <= current}
        return {c: self.names[sig] for c, sig in signatures.items()}


class ExtensionSizes:
    """``tree_size(domain, cliques + [r])`` for any ``r``, sharing one elimination of ``cliques``.

    Examples
    --------
    >>> from dpquilt.graphical.elimination import tree_size
    >>> d = {"a": 2, "b": 3, "c": 4, "e": 5}
    >>> sizes = ExtensionSizes(d, [("a", "b"), ("b", "c")])
    >>> sizes(("a", "c")), tree_size(d, [("a", "b"), ("b", "c"), ("a", "c")])
    (29, 29)
    >>> sizes(("c", "e")), sizes.base  # "e" alone is a node of 5 cells
    (38, 23)

    A later graph that left ``r``'s components as they were gives ``r`` the same growth,
    so AIM, whose graph grows a clique a round, passes one :class:`SizeReuse` to all of them:

    >>> d = {"a": 2, "b": 3, "c": 4, "e": 5, "f": 2}
    >>> reuse = SizeReuse()
    >>> first = ExtensionSizes(d, [("a", "b")], reuse)
    >>> first(("c", "e")) - first.base  # ("c", "e") of 20 cells replaces "c" and "e" (9)
    11
    >>> later = ExtensionSizes(d, [("a", "b"), ("b", "f")], reuse)  # "c" and "e" untouched: reused
    >>> later(("c", "e")) == tree_size(d, [("a", "b"), ("b", "f"), ("c", "e")]), len(reuse.growth)
    (True, 1)
    """

    def __init__(self, domain: Mapping[str, int], cliques: Sequence[Clique], reuse: SizeReuse | None = None) -> None:
        self._position = {a: i for i, a in enumerate(domain)}
        n = len(self._position)
        self._cells = _memoised_cells(_cell_counter(tuple(int(k) for k in domain.values())))
        self._rank = _name_ranks(tuple(domain))
        self._snapshots: list[list[int]] = []
        order, created = _greedy_elimination(
            _adjacency_of(self._position, cliques), set(range(n)), self._cells, self._rank, self._snapshots.append
        )
        self._step = [0] * n
        for t, v in enumerate(order):
            self._step[v] = t
        self._order = order
        self._created = created
        # the created cliques holding each column, by step: only they can contain a later clique of its
        self._holding: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for t, m in enumerate(created):
            for v in _bits(m):
                self._holding[v].append((t, m))
        # connected components: each column's, and each component's size before each of its steps
        graph = self._snapshots[0] if self._snapshots else []
        self._component = _components(graph, n)
        self._steps_of: dict[int, list[int]] = {}
        self._prefix_of: dict[int, list[int]] = {}
        for t, (v, m, maximal) in enumerate(zip(order, created, maximal_created(order, created))):
            c = self._component[v]
            self._steps_of.setdefault(c, []).append(t)
            sizes = self._prefix_of.setdefault(c, [0])
            sizes.append(sizes[-1] + (self._cells(m) if maximal else 0))
        self.base = sum(sizes[-1] for sizes in self._prefix_of.values())
        # a component's graph is named by a small integer that ``reuse`` keeps across graphs
        self._reuse = reuse if reuse is not None else SizeReuse()
        members: dict[int, list[int]] = {}
        for v, c in enumerate(self._component):
            members.setdefault(c, []).append(v)
        self._name = self._reuse.name_components({c: tuple((v, graph[v]) for v in vs) for c, vs in members.items()})
        self._compiled = _CompiledRun(domain, self._snapshots, self._holding) if 0 < n <= MAX_COLUMNS else None
        self._batch = (
            _CompiledBatch(self._step, self._component, self._steps_of, self._prefix_of, self.base)
            if self._compiled is not None and self.base < EXACT_CELLS
            else None
        )

    def __call__(self, clique: Sequence[str]) -> int:
        """Cells in the junction tree of the cliques plus ``clique``."""
        columns = [self._position[a] for a in clique]
        start = min(self._step[v] for v in columns)
        state = self._snapshots[start]
        missing = [(a, b) for i, a in enumerate(columns) for b in columns[i + 1 :] if not state[a] >> b & 1]
        while missing:  # until an end of a missing edge is eliminated, the runs agree: start there
            later = min(min(self._step[a], self._step[b]) for a, b in missing)
            if later == start:
                break
            start = later
            missing = [(a, b) for a, b in missing if not self._snapshots[start][a] >> b & 1]
        if not missing:
            return self.base
        touched = {self._component[v] for v in columns}
        key = (tuple(sorted(columns)), frozenset(self._name[c] for c in touched))
        growth = self._reuse.growth
        if key not in growth:  # the growth depends only on r and the components it touches
            growth[key] = self._replay(start, missing, touched) - self.base
        return self.base + growth[key]

    def many(self, cliques: Sequence[Sequence[str]]) -> list[int]:
        """:meth:`__call__` of every clique, in one compiled pass on tables of at most 64
        columns (the same integers; the growth of earlier graphs is not consulted: asked of
        all of a round's candidates, the pass costs less than the lookups).

        Examples
        --------
        >>> d = {"a": 2, "b": 3, "c": 4, "e": 5}
        >>> sizes = ExtensionSizes(d, [("a", "b"), ("b", "c")])
        >>> sizes.many([("a", "c"), ("c", "e"), ("a", "b")]) == [sizes(("a", "c")), sizes(("c", "e")), sizes(("a", "b"))]
        True
        """
        if self._batch is None or not cliques:
            return [self(c) for c in cliques]
        position = self._position
        rows = np.full((len(cliques), max(len(c) for c in cliques)), -1, dtype=np.int64)
        for k, clique in enumerate(cliques):
            rows[k, : len(clique)] = [position[a] for a in clique]
        batch, run = self._batch, self._compiled
        cells = extension_cells(
            rows, run.snapshots, batch.step, batch.component, batch.steps_ptr, batch.prefix_steps, batch.cells_ptr,
            batch.prefix_cells, float(self.base), run.tables, run.rank, run.holding_ptr, run.holding_step, run.holding_mask,
        ).tolist()
        return [int(x) if x >= 0 else self(c) for x, c in zip(cells, cliques)]

    def _replay(self, start: int, missing: Sequence[tuple[int, int]], touched: set[int]) -> int:
        """The size when the edges ``missing`` are added to the state before step ``start``."""
        total = self.base
        for c in touched:  # the touched components' cliques before ``start`` stay; the rest is replayed
            sizes = self._prefix_of[c]
            total += sizes[bisect.bisect_left(self._steps_of[c], start)] - sizes[-1]
        remaining = [v for v in self._order[start:] if self._component[v] in touched]
        if self._compiled is not None:
            replayed = self._compiled.replay(start, missing, remaining)
            if replayed >= 0:
                return total + replayed
        return total + self._replay_in_python(start, missing, remaining)

    def _replay_in_python(self, start: int, missing: Sequence[tuple[int, int]], remaining: Sequence[int]) -> int:
        """Cells of the replay's maximal cliques: :meth:`_replay`'s work in Python integers."""
        adjacency = list(self._snapshots[start])
        for a, b in missing:
            adjacency[a] |= 1 << b
            adjacency[b] |= 1 << a
        replay_order, replayed = _greedy_elimination(adjacency, set(remaining), self._cells, self._rank)
        total = 0
        later: list[list[int]] = [[] for _ in adjacency]  # replayed cliques holding each column
        for v, m in zip(replay_order, replayed):
            # a clique that holds v and was created before v's (prefix or replay) is the only kind that can contain it
            before = [e for t, e in self._holding[v] if t < start] + later[v]
            if not any(m & e == m for e in before):
                total += self._cells(m)
            for u in _bits(m):
                later[u].append(m)
        return total


class _CompiledRun:
    """The shared run's snapshots and holding cliques as arrays for :func:`replayed_cells`."""

    def __init__(self, domain: Mapping[str, int], snapshots: Sequence[Sequence[int]], holding: Sequence[Sequence[tuple[int, int]]]) -> None:
        n = len(domain)
        self.snapshots = np.array(snapshots, dtype=np.uint64).reshape(len(snapshots), n)
        self.tables = byte_tables([int(k) for k in domain.values()])
        self.rank = np.array(_name_ranks(tuple(domain)), dtype=np.int64)
        self.holding_ptr = np.cumsum([0] + [len(h) for h in holding]).astype(np.int64)
        self.holding_step = np.array([t for h in holding for t, _ in h], dtype=np.int64)
        self.holding_mask = np.array([m for h in holding for _, m in h], dtype=np.uint64)

    def replay(self, start: int, missing: Sequence[tuple[int, int]], remaining: Sequence[int]) -> int:
        """Cells of the replay's maximal cliques, or -1 where float64 might round."""
        alive = np.zeros(self.snapshots.shape[1], dtype=np.bool_)
        alive[list(remaining)] = True
        cells = replayed_cells(
            self.snapshots[start], np.array(missing, dtype=np.int64).reshape(-1, 2), alive, self.tables, self.rank,
            start, self.holding_ptr, self.holding_step, self.holding_mask,
        )
        return int(cells)


class _CompiledBatch:
    """The shared run's steps, components and prefix sums as arrays for :func:`extension_cells`."""

    def __init__(self, step: Sequence[int], component: Sequence[int], steps_of: Mapping[int, list[int]], prefix_of: Mapping[int, list[int]], base: int) -> None:
        n = len(step)
        self.step = np.array(step, dtype=np.int64)
        self.component = np.array(component, dtype=np.int64)
        self.steps_ptr = np.cumsum([0] + [len(steps_of.get(c, ())) for c in range(n)]).astype(np.int64)
        self.prefix_steps = np.array([t for c in range(n) for t in steps_of.get(c, ())], dtype=np.int64)
        self.cells_ptr = np.cumsum([0] + [len(prefix_of.get(c, ())) for c in range(n)]).astype(np.int64)
        self.prefix_cells = np.array([x for c in range(n) for x in prefix_of.get(c, ())], dtype=np.float64)


def _memoised_cells(cells: Callable[[int], int]) -> Callable[[int], int]:
    """``cells`` remembering its answers: the replays of one graph meet the same neighbourhoods again and again."""

    class Memo(dict):
        def __missing__(self, mask: int) -> int:
            self[mask] = value = cells(mask)
            return value

    return Memo().__getitem__


def _components(adjacency: Sequence[int], n: int) -> list[int]:
    """Each column's connected component in the graph ``adjacency`` (bitmasks), by its smallest column."""
    component = [-1] * n
    for v in range(n):
        if component[v] >= 0:
            continue
        component[v], stack = v, [v]
        while stack:
            for u in _bits(adjacency[stack.pop()]):
                if component[u] < 0:
                    component[u] = v
                    stack.append(u)
    return component
