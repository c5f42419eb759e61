"""The model's marginal on any columns, read from a calibrated junction tree: planned once
per tree, run against every calibration of it.

A marginal over columns ``A`` that no tree node contains is

    mu_A = sum_{x outside A} mu_R(x_R) prod_{K != R} mu_K(x_K) / mu_{S_K}(x_{S_K})

over a small subtree whose nodes cover ``A`` (rooted at ``R``, ``S_K`` the separator of
``K`` with its parent), each factor first summed onto what the others or ``A`` need,
then contracted by variable elimination in greedy min-size order (Koller and Friedman
2009, Section 9.4.3.1): no table over the whole subtree is ever materialised. Columns of
different connected components are independent, so their marginal is the product of
each component's.

Which subtree, which sums and which contractions a projection takes depend only on the
tree, the domain and the columns, not on the tables. AIM asks the same ~10^4 marginals
of every round's model, and most rounds leave the tree as it was, so the steps are
planned once (:func:`plan_projection`, kept by :class:`ProjectionPlans` while the tree
stays the same) and only run each round (:func:`run_plan`); on a 47-column model of
small nodes the planning was about two thirds of a projection's time.
"""

from __future__ import annotations

import functools
import math
import os
import string
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .junction import JunctionTree, conditionals, marginalise
from .reductions import sum_out

__all__ = ["ProjectionCache", "ProjectionPlan", "ProjectionPlans", "plan_projection", "project", "project_many", "run_plan"]

Clique = tuple[str, ...]
#: the plan's output, when no later step needs it under a name
OUTPUT = ("output",)
#: the total count, an input of products over components
TOTAL = ("total",)

#: contractions whose index space (the product of every column's size) is at most this are
#: done by numpy's single C loop, without a contraction path
DIRECT_EINSUM_CELLS = 2**16
#: largest intermediate table (cells) a contraction path may create. numpy's own default, the
#: largest operand, rules out the pairwise steps that carry a node's table against an
#: asked-for column: a 3-table product over a 216,000-cell node and two columns of 9 and
#: 10 values (19M index cells) took 140 ms as one loop, 9 ms in two pairwise steps
#: (opt_einsum's tensordot steps: 65-280 ms)
CONTRACTION_MEMORY_CELLS = 2**24


@dataclass(frozen=True)
class Step:
    """One table of a projection: ``compute(*inputs)``, named ``key``.

    Inputs name a node's calibrated marginal (``("marginal", i)``), its conditional given
    its parent's separator (``("conditional", i)``), the total (``TOTAL``) or an earlier
    step. ``shared`` steps are kept in the model's :class:`ProjectionCache` under ``key``,
    which names their content, so that projections taking the same step share it.
    """

    key: Hashable
    inputs: tuple[Hashable, ...]
    compute: Callable[..., np.ndarray]
    shared: bool = True


@dataclass(frozen=True)
class ProjectionPlan:
    """The steps of one projection, in an order where each step's inputs come before it;
    the last step's table is the marginal.

    Examples
    --------
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> tree = build_junction_tree({"a": 2, "b": 2, "c": 2}, [("a", "b"), ("b", "c")])
    >>> [step.key for step in plan_projection(tree, {"a": 2, "b": 2, "c": 2}, ("a", "c")).steps]
    [('root', 0, ('a', 'b')), ('node', 1, ('b', 'c')), ('output',)]
    """

    steps: tuple[Step, ...]


class ProjectionCache:
    """Tables of one calibrated model that its projections share, named by the plans' step keys.

    A key names its table's content: a node's table summed onto some of its columns by
    the node, its role and those columns; an elimination product by its factors' names
    and the columns it keeps; a component's marginal by its columns. So a name never
    meets two contents, and projections that take the same step share it. Entries stop
    being added past ``max_bytes``. Threads may share one cache: two that ask for the
    same missing entry at once both compute it (the same table).

    ``uses`` (optional) counts, for a known batch of plans, how many plans take each
    step: a table is then kept only while a plan still to run takes its step, and
    :meth:`release` drops it after the last one (on a 47-column round, keeping every
    shared table took 1.4 GB).

    Examples
    --------
    >>> cache = ProjectionCache(max_bytes=1000)
    >>> cache.get_or_compute(("x",), lambda: np.zeros(10)).size, cache.get_or_compute(("x",), lambda: np.ones(1)).size
    (10, 10)
    >>> cache.get_or_compute(("y",), lambda: np.zeros(1000)).size, ("y",) in cache.entries  # too big to keep
    (1000, False)
    >>> counted = ProjectionCache(uses={("x",): 2, ("y",): 1})
    >>> _ = counted.get_or_compute(("x",), lambda: np.zeros(3)), counted.get_or_compute(("y",), lambda: np.zeros(3))
    >>> sorted(counted.entries)  # ("y",) has no other user
    [('x',)]
    >>> counted.release([("x",)]); sorted(counted.entries), counted.bytes
    ([('x',)], 24)
    >>> counted.release([("x",)]); sorted(counted.entries), counted.bytes
    ([], 0)
    """

    def __init__(self, max_bytes: int = 256 * 2**20, uses: Mapping[Hashable, int] | None = None) -> None:
        self.entries: dict[Hashable, np.ndarray] = {}
        self.max_bytes = max_bytes
        self.bytes = 0
        self.uses = dict(uses) if uses is not None else None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # a cache: a pickled model does not carry it (nor its lock)
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["max_bytes"])

    def get_or_compute(self, key: Hashable, compute: Callable[[], np.ndarray]) -> np.ndarray:
        table = self.entries.get(key)
        if table is None:
            table = compute()
            self.keep(key, table)
        return table

    def keep(self, key: Hashable, table: np.ndarray) -> None:
        if self.uses is not None and self.uses.get(key, 0) < 2:  # no plan but the running one takes it
            return
        with self._lock:
            if key not in self.entries and self.bytes + table.nbytes <= self.max_bytes:
                self.entries[key] = table
                self.bytes += table.nbytes

    def release(self, keys: Sequence[Hashable]) -> None:
        """One plan that takes the steps ``keys`` is done (only with ``uses``)."""
        if self.uses is None:
            return
        with self._lock:
            for key in keys:
                left = self.uses[key] = self.uses[key] - 1
                if left <= 0:
                    table = self.entries.pop(key, None)
                    if table is not None:
                        self.bytes -= table.nbytes


class ProjectionPlans:
    """Plans of one junction tree's projections, kept while AIM's rounds leave the tree as it was.

    A plan depends only on the tree, the domain and the columns; a model whose tree
    differs (a round that added a clique) starts a new set.

    Examples
    --------
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> domain = {"a": 2, "b": 2, "c": 2}
    >>> plans = ProjectionPlans()
    >>> first = plans.plan(build_junction_tree(domain, [("a", "b"), ("b", "c")]), domain, ("a", "c"))
    >>> first is plans.plan(build_junction_tree(domain, [("a", "b"), ("b", "c")]), domain, ("a", "c"))  # an equal tree
    True
    >>> first is plans.plan(build_junction_tree(domain, [("a", "b", "c")]), domain, ("a", "c"))
    False
    """

    def __init__(self) -> None:
        self._tree: JunctionTree | None = None
        self._domain: dict[str, int] = {}
        self._plans: dict[Clique, ProjectionPlan] = {}
        self._steps: dict[Hashable, Step] = {}  # the plans' shared steps, by key

    def __getstate__(self) -> dict:  # plans are remade on demand: a pickled model does not carry them
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def plan(self, tree: JunctionTree, domain: Mapping[str, int], cols: Sequence[str]) -> ProjectionPlan:
        """The plan of ``cols`` on ``tree`` (made the first time it is asked)."""
        if tree is not self._tree:
            if tree != self._tree or dict(domain) != self._domain:
                self._plans = {}
                self._steps = {}
                self._domain = dict(domain)
            self._tree = tree
        cols = tuple(cols)
        found = self._plans.get(cols)
        if found is None:
            found = self._plans[cols] = plan_projection(tree, domain, cols, made=self._steps)
        return found


def project(
    tree: JunctionTree,
    marginals: Mapping[Clique, np.ndarray],
    cols: Sequence[str],
    total: float,
    conditional: Mapping[int, np.ndarray] | None = None,
    cache: ProjectionCache | None = None,
    plans: ProjectionPlans | None = None,
) -> np.ndarray:
    """The model's marginal over ``cols`` (in that order) from calibrated node marginals.

    ``conditional`` is :func:`~dpquilt.graphical.junction.conditionals` of the same tree
    and marginals (computed here when needed and not given). ``cache`` (optional, one per
    calibrated model) keeps the tables that projections share; ``plans`` (optional, one
    per sequence of models) keeps the plans.

    Examples
    --------
    >>> from dpquilt.graphical.junction import build_junction_tree, calibrate
    >>> d = {"a": 2, "b": 2, "c": 2}
    >>> tree = build_junction_tree(d, [("a", "b"), ("b", "c")])
    >>> same = np.log(np.array([[9.0, 1.0], [1.0, 9.0]]))  # a = b and b = c, each 90% of the time
    >>> marginals = calibrate(tree, d, {("a", "b"): same, ("b", "c"): same}, total=100.0)
    >>> project(tree, marginals, ["a", "c"], 100.0).round(6).tolist()  # a = c 82% of the time
    [[41.0, 9.0], [9.0, 41.0]]
    """
    domain = {a: n for node in tree.nodes for a, n in zip(node, marginals[node].shape)}
    plan = plans.plan(tree, domain, cols) if plans is not None else plan_projection(tree, domain, tuple(cols))

    def source(key: Hashable) -> np.ndarray | float:
        nonlocal conditional
        if key == TOTAL:
            return total
        kind, i = key
        if kind == "marginal":
            return marginals[tree.nodes[i]]
        if conditional is None:
            conditional = conditionals(tree, marginals)
        return conditional[i]

    return run_plan(plan, source, cache if cache is not None else ProjectionCache())


def run_plan(plan: ProjectionPlan, source: Callable[[Hashable], np.ndarray | float], cache: ProjectionCache) -> np.ndarray:
    """The plan's marginal: each step's table from its inputs, found in this run, in
    ``cache`` or (the model's own tables) from ``source``; shared steps are kept in
    ``cache``. A step is run only when a later one needs it and the cache lacks that one.

    Examples
    --------
    >>> plan = ProjectionPlan((Step(OUTPUT, (("marginal", 0),), lambda t: t.sum(axis=0), shared=False),))
    >>> run_plan(plan, lambda key: np.ones((2, 3)), ProjectionCache()).tolist()
    [2.0, 2.0, 2.0]
    """
    entries = cache.entries
    steps = plan.steps
    found: dict[Hashable, np.ndarray | float] = {}
    needed = {steps[-1].key}
    for step in reversed(steps):  # which steps must run: those needed and not in the cache
        if step.key in needed:
            table = entries.get(step.key) if step.shared else None
            if table is None:
                needed.update(step.inputs)
            else:
                found[step.key] = table
    for step in steps:
        if step.key not in needed or step.key in found:
            continue
        args = []
        for k in step.inputs:
            value = found.get(k)
            if value is None:
                value = entries.get(k)
                if value is None:
                    value = source(k)
            args.append(value)
        table = found[step.key] = step.compute(*args)
        if step.shared:
            cache.keep(step.key, table)
    output = found[steps[-1].key]
    assert isinstance(output, np.ndarray)
    return output


def project_many(
    tree: JunctionTree,
    marginals: Mapping[Clique, np.ndarray],
    cliques: Sequence[Clique],
    total: float,
    conditional: Mapping[int, np.ndarray] | None = None,
    plans: ProjectionPlans | None = None,
    max_bytes: int = 2**30,
) -> list[np.ndarray]:
    """``[project(tree, marginals, r, total) for r in cliques]``, sharing work across them.

    Every plan is known before any runs, so the shared tables are counted by how many
    projections take them (:class:`ProjectionCache` with ``uses``): each is computed once
    and dropped after its last user, up to ``max_bytes`` held at once. The first
    ``PROJECTIONS_PER_TASK`` run alone (building the model's lazily computed tables on
    one thread); the rest run on as many threads as this process may use (at most 8)
    when those took more than ``THREADED_PROJECTION_S`` each: numpy's contractions
    release the GIL.

    Examples
    --------
    >>> from dpquilt.graphical.junction import build_junction_tree, calibrate
    >>> d = {"a": 2, "b": 2, "c": 2}
    >>> tree = build_junction_tree(d, [("a", "b"), ("b", "c")])
    >>> same = np.log(np.array([[9.0, 1.0], [1.0, 9.0]]))
    >>> marginals = calibrate(tree, d, {("a", "b"): same, ("b", "c"): same}, total=100.0)
    >>> [m.round(6).tolist() for m in project_many(tree, marginals, [("a", "c"), ("c",)], 100.0)]
    [[[41.0, 9.0], [9.0, 41.0]], [50.0, 50.0]]
    """
    domain = {a: n for node in tree.nodes for a, n in zip(node, marginals[node].shape)}
    plans = plans if plans is not None else ProjectionPlans()
    batch = [plans.plan(tree, domain, r) for r in cliques]
    uses: dict[Hashable, int] = {}
    for plan in batch:
        for step in plan.steps:
            if step.shared:
                uses[step.key] = uses.get(step.key, 0) + 1
    cache = ProjectionCache(max_bytes, uses)
    if conditional is None and any(k[0] == "conditional" for plan in batch for step in plan.steps for k in step.inputs if k != TOTAL):
        conditional = conditionals(tree, marginals)

    def source(key: Hashable) -> np.ndarray | float:
        if key == TOTAL:
            return total
        kind, i = key
        return marginals[tree.nodes[i]] if kind == "marginal" else conditional[i]

    def run(plans_of_task: Sequence[ProjectionPlan]) -> list[np.ndarray]:
        out = []
        for plan in plans_of_task:
            out.append(run_plan(plan, source, cache))
            cache.release([step.key for step in plan.steps if step.shared])
        return out

    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1), 8)
    start = time.perf_counter()
    first = run(batch[:PROJECTIONS_PER_TASK])
    rest = batch[PROJECTIONS_PER_TASK:]
    if workers < 2 or not rest or time.perf_counter() - start < THREADED_PROJECTION_S * len(first):
        return first + run(rest)
    tasks = [rest[k : k + PROJECTIONS_PER_TASK] for k in range(0, len(rest), PROJECTIONS_PER_TASK)]
    with ThreadPoolExecutor(workers) as pool:
        return first + [m for part in pool.map(run, tasks) for m in part]


#: projections handed to a thread at a time (numpy's contractions release the GIL, so threads
#: share large models' projections: 1.8x on 2 cores for a model with 10^6-cell nodes)
PROJECTIONS_PER_TASK = 64
#: threads only pay when a projection is mostly numpy: at 0.07 ms a projection (a 55-column
#: model of small nodes) two threads were slower (15 s to 22 s a seeded fit), at 3 ms faster
THREADED_PROJECTION_S = 5e-4


def plan_projection(
    tree: JunctionTree, domain: Mapping[str, int], cols: Clique, output: Hashable = OUTPUT, made: dict[Hashable, Step] | None = None
) -> ProjectionPlan:
    """The steps of the marginal over ``cols`` (see the module docstring); the last is named ``output``.

    ``made`` (optional) holds the shared steps of earlier plans of this tree and domain by
    key: a step's key determines it, so plans that take the same step share one."""
    made = made if made is not None else {}
    cols = tuple(cols)
    wanted = frozenset(cols)
    for i, members in enumerate(tree.node_sets):
        if wanted <= members:
            node = tree.nodes[i]
            return ProjectionPlan((_step(made, output, (("marginal", i),), lambda: functools.partial(_marginalise_onto, attrs=node, keep=cols)),))
    groups: dict[int, list[str]] = {}
    for a in cols:
        groups.setdefault(tree.components[a], []).append(a)
    if len(groups) > 1:  # independent components: the product of their marginals
        steps: list[Step] = []
        parts = []
        for g in map(tuple, groups.values()):
            key = ("marginal", g)
            steps.extend(s for s in plan_projection(tree, domain, g, key, made).steps if s.key not in {t.key for t in steps})
            parts.append((key, g))
        product = _einsum_plan([g for _, g in parts], domain, cols)
        steps.append(_step(made, output, (*(k for k, _ in parts), TOTAL), lambda: functools.partial(_component_product, product, len(parts))))
        return ProjectionPlan(tuple(steps))
    subtree = _steiner_subtree(tree, cols)
    order, parent = tree.rooted(0)
    order = [i for i in order if i in subtree]
    parent = [p if p in subtree else -1 for p in parent]  # the subtree's root: its parent lies outside
    steps = []
    factors: list[tuple[Clique, Hashable]] = []
    for i in order:
        node = tree.nodes[i]
        near = set(cols).union(*(tree.nodes[j] for j in tree._neighbours[i] if j in subtree))
        own = tuple(a for a in node if a in near)  # what the other factors or the output need
        root = parent[i] < 0
        key = ("root" if root else "node", i, own)
        axes = tuple(k for k, a in enumerate(node) if a not in own)
        steps.append(_step(made, key, (("marginal" if root else "conditional", i),), lambda: functools.partial(_sum_axes, axes=axes)))
        factors.append((own, key))  # the root's marginal, the others' conditionals
    steps.extend(_elimination_steps(factors, cols, domain, output, made))
    return ProjectionPlan(tuple(steps))


def _step(made: dict[Hashable, Step], key: Hashable, inputs: tuple[Hashable, ...], compute: Callable[[], Callable[..., np.ndarray]]) -> Step:
    """The step named ``key`` (made by ``compute()`` the first time); an ``OUTPUT`` step is the plan's own."""
    if key == OUTPUT:
        return Step(key, inputs, compute(), shared=False)
    step = made.get(key)
    if step is None:
        step = made[key] = Step(key, inputs, compute())
    return step


def _elimination_steps(
    factors: Sequence[tuple[Clique, Hashable]], keep: Clique, domain: Mapping[str, int], output: Hashable, made: dict[Hashable, Step]
) -> list[Step]:
    """``sum`` over the columns not in ``keep`` of the product of ``factors``, by variable
    elimination in greedy min-size order (Koller and Friedman 2009, Section 9.4.3.1):
    each step sums out the column whose factors multiply into the smallest table, with
    every other column that only those factors hold. A column asked for that lives in a
    leaf behind a small separator is thus joined last, instead of being carried through
    every node between it and the others.

    Each factor comes with a key that names its content; a step's product is named by
    its factors' keys and what it keeps."""
    work = list(factors)
    steps = []
    hidden = {a for attrs, _ in work for a in attrs} - set(keep)
    while hidden and len(work) > 2:  # two factors: one contraction below
        holders: dict[str, set[str]] = {a: set() for a in hidden}
        for attrs, _ in work:
            for a in attrs:
                if a in holders:
                    holders[a].update(attrs)
        best = min(sorted(hidden), key=lambda a: math.prod(domain[b] for b in holders[a]))
        involved = [f for f in work if best in f[0]]
        rest = [f for f in work if best not in f[0]]
        outside = set(keep).union(*(attrs for attrs, _ in rest))
        union = tuple(dict.fromkeys(a for attrs, _ in involved for a in attrs))
        out = tuple(a for a in union if a in outside)
        key = ("product", frozenset(k for _, k in involved), out)
        steps.append(_step(made, key, tuple(k for _, k in involved), lambda: _contraction([attrs for attrs, _ in involved], domain, out)))
        work = [*rest, (out, key)]
        hidden -= set(union) - set(out)
    steps.append(_step(made, output, tuple(k for _, k in work), lambda: _contraction([attrs for attrs, _ in work], domain, keep)))
    return steps


def _contraction(operands: Sequence[Clique], domain: Mapping[str, int], keep: Clique) -> Callable[..., np.ndarray]:
    """``f(*tables)``: the sum over the columns not in ``keep`` of the product of tables
    over ``operands``, axes in ``keep``'s order.

    Each table is first summed over the columns that no other table and not the output
    needs: a node's table against a message carrying the asked-for columns would
    otherwise be multiplied out in full (cells of the node times cells of the carried
    columns).
    """
    if len(operands) == 1:
        return functools.partial(_marginalise_onto, attrs=operands[0], keep=keep)
    axes, reduced = [], []
    for k, attrs in enumerate(operands):
        needed = set(keep).union(*(other for j, other in enumerate(operands) if j != k))
        axes.append(tuple(i for i, a in enumerate(attrs) if a not in needed))
        reduced.append(tuple(a for a in attrs if a in needed))
    return functools.partial(_reduce_then_contract, tuple(axes), _einsum_plan(reduced, domain, keep))


def _reduce_then_contract(axes: Sequence[tuple[int, ...]], contract: Callable[..., np.ndarray], *tables: np.ndarray) -> np.ndarray:
    return contract(*(sum_out(t, ax) if ax else t for t, ax in zip(tables, axes)))


def _einsum_plan(operands: Sequence[Clique], domain: Mapping[str, int], keep: Clique) -> Callable[..., np.ndarray]:
    """``f(*tables)``: the product of the tables summed onto ``keep`` by one ``einsum``: one
    C loop when small, otherwise on numpy's greedy pairwise path."""
    union = list(dict.fromkeys(a for attrs in operands for a in attrs))
    letters = {a: string.ascii_letters[k] for k, a in enumerate(union)}
    expr = ",".join("".join(letters[a] for a in attrs) for attrs in operands) + "->" + "".join(letters[a] for a in keep)
    shapes = tuple(tuple(domain[a] for a in attrs) for attrs in operands)
    space = math.prod(domain[a] for a in union)
    if space <= DIRECT_EINSUM_CELLS:  # small: one loop in C beats planning pairwise steps
        return functools.partial(np.einsum, expr)
    return functools.partial(_einsum_on_path, expr, _contraction_path(expr, shapes))


def _einsum_on_path(expr: str, path: list, *tables: np.ndarray) -> np.ndarray:
    return np.einsum(expr, *tables, optimize=path)


def _component_product(product: Callable[..., np.ndarray], parts: int, *tables) -> np.ndarray:
    *marginals, total = tables
    return product(*marginals) / total ** (parts - 1)


def _marginalise_onto(table: np.ndarray, attrs: Clique, keep: Clique) -> np.ndarray:
    return marginalise(table, attrs, keep)


def _sum_axes(table: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return sum_out(table, axes) if axes else table


@functools.lru_cache(maxsize=4096)
def _contraction_path(expr: str, shapes: tuple[tuple[int, ...], ...]) -> list:
    """numpy's greedy contraction order for ``expr`` on these shapes, intermediates up to
    ``CONTRACTION_MEMORY_CELLS`` (a pure function of its arguments, cached: AIM asks for
    the same contractions every round)."""
    return np.einsum_path(expr, *(np.empty(s) for s in shapes), optimize=("greedy", CONTRACTION_MEMORY_CELLS))[0]


def _steiner_subtree(tree: JunctionTree, cols: Clique) -> set[int]:
    """Nodes of a small subtree that covers ``cols`` (columns of one component, as
    :func:`plan_projection` asks): greedy cover (the node holding most of the columns still
    uncovered, ties by position), each chosen node joined to the first by its tree path."""
    remaining, chosen = set(cols), []
    holding = tree.holding
    while remaining:
        coverage: dict[int, int] = {}
        for a in remaining:
            for i in holding[a]:
                coverage[i] = coverage.get(i, 0) + 1
        best = min(coverage, key=lambda i: (-coverage[i], i))
        chosen.append(best)
        remaining -= tree.node_sets[best]
    keep = {chosen[0]}
    for target in chosen[1:]:
        path = tree.path(chosen[0], target)
        if path is None:
            raise ValueError(f"columns {cols} span components: project them one component at a time")
        keep.update(path)
    return keep
