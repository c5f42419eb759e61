"""The model's marginal on any columns, read from a calibrated junction tree: planned once
per layout, run against every calibration.

A marginal over columns ``A`` that no tree node contains is

    mu_A = sum_{x outside A} mu_R(x_R) prod_{K != R} mu_K(x_K) / mu_{S_K}(x_{S_K})

over a small subtree whose nodes cover ``A`` (rooted at its largest node ``R``, ``S_K``
the separator of ``K`` with its parent), each factor first summed onto what the others
or ``A`` need, then contracted by variable elimination in greedy min-size order (Koller
and Friedman 2009, Section 9.4.3.1): no table over the whole subtree is ever
materialised. Columns of different connected components are independent, so their
marginal is the product of each component's.

Which subtree, sums and contractions a projection takes depend only on the columns, the
domain and the subtree's nodes (its layout, :func:`projection_layout`), not on the
tables. AIM asks the same ~10^4 marginals of every round's model, and a round changes
the tree at most around the clique it added, so each plan is made once
(:func:`plan_of_layout`) and kept while its layout lasts (:class:`ProjectionPlans`), its
elimination taking the products that other plans made where it can
(:func:`shared_greedy_order`); a round's projections then run as one batch
(:func:`project_many`) that computes every table they share once and frees it after its
last user. On a 47-column round with a
216,000-cell node this took the projections from 42 s to 6-12 s.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import string
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from ..marginals.tables import marginalise, sum_out
from .calibration import conditional_given
from .compiled_elimination import greedy_products, product_signature, shared_products
from .compiled_replay import MAX_COLUMNS, byte_tables
from .elimination import _cell_counter, _cells, _name_ranks
from .junction import JunctionTree
from .pairwise import PairwisePlan, plan_pairwise
from .projection_processes import ProjectionWorker, WorkerFailed, serve_standard_streams, shares

__all__ = ["PlanningMemo", "ProjectionCache", "ProjectionPlan", "ProjectionPlans", "plan_of_layout", "plan_projection", "project", "project_many", "projection_layout", "run_plan", "serve_as_worker"]

log = logging.getLogger(__name__)

Clique = tuple[str, ...]
#: the plan's output, when no later step needs it under a name
OUTPUT = ("output",)
#: the total count, an input of products over components
TOTAL = ("total",)
#: names a node's calibrated marginal, ``(NODE, node)``: what a plan reads of the model
NODE = "node marginal"

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

    Inputs name a node's calibrated marginal (``(NODE, node)``), the total (``TOTAL``) or
    an earlier step. ``shared`` steps are kept in the model's :class:`ProjectionCache` under ``key``,
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
    [('root', ('a', 'b'), ('a', 'b')), ('conditional', ('b', 'c'), ('b',)), ('node', ('b', 'c'), ('b',), ('b', 'c')), ('output',)]
    """

    steps: tuple[Step, ...]
    layout: tuple = ()

    @functools.cached_property
    def nodes(self) -> frozenset[Clique]:
        """The junction-tree nodes whose marginals the plan reads."""
        return frozenset(k[1] for step in self.steps for k in step.inputs if k[0] == NODE)

    @functools.cached_property
    def shared_keys(self) -> tuple[Hashable, ...]:
        """The keys of the plan's shared steps (counted and released once per run of the plan)."""
        return tuple(step.key for step in self.steps if step.shared)

    @functools.cached_property
    def edges(self) -> frozenset[frozenset[Clique]]:
        """The junction-tree edges of the plan's covering subtrees, each as the pair of its nodes."""
        return _layout_edges(self.layout)


def _layout_edges(layout: tuple) -> frozenset[frozenset[Clique]]:
    """The edges (pairs of nodes) of a layout's covering subtrees (:func:`projection_layout`)."""
    if not layout:  # a plan made without a layout
        return frozenset()
    kind, content = layout
    if kind == "subtree":
        return frozenset(frozenset((node, parent)) for node, parent in content if parent is not None)
    if kind == "components":
        return frozenset().union(*(_layout_edges(part) for _, part in content))
    return frozenset()


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
    >>> cache.keep(("x",), np.zeros(10)); cache.keep(("x",), np.ones(1)); cache.entries[("x",)].size  # the first stays
    10
    >>> cache.keep(("y",), np.zeros(1000)); ("y",) in cache.entries  # too big to keep
    False
    >>> counted = ProjectionCache(uses={("x",): 2, ("y",): 1})
    >>> counted.keep(("x",), np.zeros(3)); counted.keep(("y",), np.zeros(3))
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

    def keep(self, key: Hashable, table: np.ndarray) -> None:
        """Keep ``table`` under ``key`` if it fits, no entry has that key, and (with ``uses``) a later plan takes it."""
        if self.uses is not None and self.uses.get(key, 0) < 2:  # no plan but the running one takes it
            return
        with self._lock:
            if key not in self.entries and self.bytes + table.nbytes <= self.max_bytes:
                self.entries[key] = table
                self.bytes += table.nbytes

    def count(self, plans: Sequence[ProjectionPlan]) -> None:
        """Count the steps of more plans to run among the ``uses`` (only with ``uses``)."""
        if self.uses is None:
            return
        with self._lock:
            uses = self.uses
            for plan in plans:
                for key in plan.shared_keys:
                    uses[key] = uses.get(key, 0) + 1

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
    """Plans of a sequence of junction trees' projections (AIM's rounds), kept while they still apply.

    A plan depends only on the columns and their layout: the nodes of the covering
    subtree, how they join, and the domain (:func:`projection_layout`). While the tree
    stays the same, a plan is found by its columns. A round that adds a clique changes
    the tree only around it, so when the tree changes, a plan of the tree before is kept
    if none of its columns lies in a node that came or went or changed component, every
    node it reads is still there, and every edge of its covering subtree is still an
    edge: then its layout is unchanged (the cover is chosen from the nodes holding its
    columns, and a tree has one path between two nodes). For the others the layout is
    worked out, and compared with the plan's. Edges are compared only when the tree
    joins the nodes both trees have differently (31 of 89 changes in a 47-column AIM run,
    whose planning went from 83 s to 72 s when those stopped redoing every layout).

    The plans also keep the worker processes that take shares of large batches
    (:func:`project_many`, :mod:`dpquilt.graphical.projection_processes`), each with plans
    of its own, from model to model; ``worker_processes=False`` keeps every batch in this
    process (on threads). :meth:`close` ends them; so does dropping the plans, or the end of
    this process.

    Examples
    --------
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> domain = {"a": 2, "b": 2, "c": 2, "d": 2}
    >>> plans = ProjectionPlans()
    >>> first = plans.plan(build_junction_tree(domain, [("a", "b"), ("b", "c"), ("d",)]), domain, ("a", "c"))
    >>> first is plans.plan(build_junction_tree(domain, [("a", "b"), ("b", "c"), ("d",)]), domain, ("a", "c"))
    True
    >>> first is plans.plan(build_junction_tree(domain, [("a", "b"), ("b", "c"), ("c", "d")]), domain, ("a", "c"))  # the same subtree
    True
    >>> first is plans.plan(build_junction_tree(domain, [("a", "b", "c")]), domain, ("a", "c"))
    False
    """

    def __init__(self, worker_processes: bool = True) -> None:
        self._forget()
        self.worker_processes = worker_processes
        self._workers: list[ProjectionWorker] = []  # processes that take shares of large batches (project_many)
        self._speeds: list[float] = []  # each process's share of a batch, relative to an equal one (share_weights)
        self._closing = weakref.finalize(self, _close_all, self._workers)

    def _forget(self) -> None:
        """Drop every plan and what planning kept."""
        self._tree: JunctionTree | None = None
        self._domain: dict[str, int] = {}
        self._by_cols: dict[Clique, ProjectionPlan] = {}  # the current tree's, by columns
        self._earlier: dict[Clique, ProjectionPlan] = {}  # the tree before's, by columns, while they may still apply
        self._moved: set[str] = set()  # columns whose earlier plans do not apply
        self._nodes: frozenset[Clique] = frozenset()  # the current tree's nodes
        self._edges: frozenset[frozenset[Clique]] | None = None  # the current tree's edges, when it rewired kept nodes
        self._steps: MadeSteps | None = None  # the current plans' shared steps, by key (made for each tree)
        self._groups: dict[Clique, tuple] = {}  # the current tree's layouts of column groups
        self._memo: PlanningMemo | None = None  # the domain's bits and contractions, kept across trees

    def __getstate__(self) -> dict:  # plans are remade on demand: a pickled model does not carry them
        return {"worker_processes": self.worker_processes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state.get("worker_processes", True))

    def workers(self, count: int) -> list[ProjectionWorker]:
        """``count`` worker processes kept for this sequence of models (started with their first request)."""
        while len(self._workers) < count:
            self._workers.append(ProjectionWorker())
        return self._workers[:count]

    def close(self) -> None:
        """End the worker processes (later batches start them again when they need them)."""
        _close_all(self._workers)

    def share_weights(self, parts: int) -> list[float]:
        """How much of a batch each of ``parts`` processes takes (this process first): in
        proportion to the speeds the last shared batches showed (:meth:`balance`), equal at first.

        Examples
        --------
        >>> plans = ProjectionPlans()
        >>> plans.share_weights(2)
        [1.0, 1.0]
        >>> plans.balance([300.0, 100.0])  # this process ran three times as many a second
        >>> plans.share_weights(2)
        [1.25, 0.75]
        """
        if len(self._speeds) != parts:
            self._speeds = [1.0] * parts
        return list(self._speeds)

    def balance(self, speeds: Sequence[float]) -> None:
        """Note the projections a second each process ran in a shared batch (this process
        first): later batches are dealt in proportion, half way from the shares before
        (its share's plans move with the columns that change hands)."""
        total = sum(speeds)
        if len(speeds) == len(self._speeds) and total > 0:
            self._speeds = [0.5 * old + 0.5 * len(speeds) * new / total for old, new in zip(self._speeds, speeds)]

    def plan(self, tree: JunctionTree, domain: Mapping[str, int], cols: Sequence[str]) -> ProjectionPlan:
        """The plan of ``cols`` on ``tree`` (made the first time it is asked)."""
        if tree is not self._tree:
            self._move_to(tree, domain)
        cols = tuple(cols)
        found = self._by_cols.get(cols)
        if found is None:
            found = self._earlier.get(cols)
            if (
                found is None
                or not self._moved.isdisjoint(cols)
                or not found.nodes <= self._nodes
                or (self._edges is not None and not found.edges <= self._edges)
            ):
                layout = projection_layout(tree, domain, cols, self._groups)
                if found is None or found.layout != layout:
                    found = plan_of_layout(layout, domain, cols, made=self._steps, memo=self._memo)
                else:
                    self._steps.adopt(found)
            else:
                self._steps.adopt(found)
            self._by_cols[cols] = found
        return found

    def _move_to(self, tree: JunctionTree, domain: Mapping[str, int]) -> None:
        if dict(domain) != self._domain:
            self._forget()
            self._domain = dict(domain)
        elif tree == self._tree:
            self._tree = tree
            return
        before, self._tree = self._tree, tree
        self._nodes = frozenset(tree.nodes)
        self._earlier, self._by_cols, self._groups = self._by_cols, {}, {}
        self._memo = self._memo.moved() if self._memo is not None else PlanningMemo.of(self._domain)
        self._steps = MadeSteps(self._memo.mask)
        self._edges = None
        if before is None:
            return
        kept = self._nodes.intersection(before.nodes)
        if _edges_among(before, kept) != _edges_among(tree, kept):  # paths may have moved: check each plan's edges
            self._edges = frozenset(_edges_among(tree, self._nodes))
        self._moved = {a for node in self._nodes.symmetric_difference(before.nodes) for a in node}
        old, new = _component_members(before), _component_members(tree)
        self._moved.update(a for a in new if old.get(a) != new[a])


def _close_all(workers: list[ProjectionWorker]) -> None:
    for worker in workers:
        worker.close()


def _edges_among(tree: JunctionTree, nodes: frozenset[Clique]) -> set[frozenset]:
    return {frozenset((tree.nodes[i], tree.nodes[j])) for i, j in tree.edges if tree.nodes[i] in nodes and tree.nodes[j] in nodes}


def _component_members(tree: JunctionTree) -> dict[str, frozenset[str]]:
    """Each column's connected component, as the set of its columns."""
    members: dict[int, set[str]] = {}
    for a, c in tree.components.items():
        members.setdefault(c, set()).add(a)
    frozen = {c: frozenset(m) for c, m in members.items()}
    return {a: frozen[c] for a, c in tree.components.items()}


def project(
    tree: JunctionTree,
    marginals: Mapping[Clique, np.ndarray],
    cols: Sequence[str],
    total: float,
    cache: ProjectionCache | None = None,
    plans: ProjectionPlans | None = None,
) -> np.ndarray:
    """The model's marginal over ``cols`` (in that order) from calibrated node marginals.

    ``cache`` (optional, one per calibrated model) keeps the tables that projections
    share; ``plans`` (optional, one per sequence of models) keeps the plans.

    Examples
    --------
    >>> from dpquilt.graphical.calibration import calibrate
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> d = {"a": 2, "b": 2, "c": 2}
    >>> tree = build_junction_tree(d, [("a", "b"), ("b", "c")])
    >>> same = np.log(np.array([[9.0, 1.0], [1.0, 9.0]]))  # a = b and b = c, each 90% of the time
    >>> marginals = calibrate(tree, d, {("a", "b"): same, ("b", "c"): same}, total=100.0)
    >>> project(tree, marginals, ["a", "c"], 100.0).round(6).tolist()  # a = c 82% of the time
    [[41.0, 9.0], [9.0, 41.0]]
    """
    domain = _domain_of(tree, marginals)
    plan = plans.plan(tree, domain, cols) if plans is not None else plan_projection(tree, domain, tuple(cols))
    return run_plan(plan, _source(marginals, total), cache if cache is not None else ProjectionCache())


def _domain_of(tree: JunctionTree, marginals: Mapping[Clique, np.ndarray]) -> dict[str, int]:
    return {a: n for node in tree.nodes for a, n in zip(node, marginals[node].shape)}


def _source(marginals: Mapping[Clique, np.ndarray], total: float) -> Callable[[Hashable], np.ndarray | float]:
    """What a plan reads of the model: a node's marginal (``(NODE, node)``) or the total."""

    def source(key: Hashable) -> np.ndarray | float:
        return total if key == TOTAL else marginals[key[1]]

    return source


def run_plan(plan: ProjectionPlan, source: Callable[[Hashable], np.ndarray | float], cache: ProjectionCache) -> np.ndarray:
    """The plan's marginal: each step's table from its inputs, found in this run, in
    ``cache`` or (the model's own tables) from ``source``; shared steps are kept in
    ``cache``. A step is run only when a later one needs it and the cache lacks that one.

    Examples
    --------
    >>> plan = ProjectionPlan((Step(OUTPUT, ((NODE, ("a", "b")),), lambda t: t.sum(axis=0), shared=False),))
    >>> run_plan(plan, lambda key: np.ones((2, 3)), ProjectionCache()).tolist()  # the source gives every node's marginal
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
        # in C order: numpy hands back contractions and sums as transposed views, and a
        # later contraction of such a view took up to 100 times as long as of a contiguous one
        table = found[step.key] = np.require(step.compute(*args), requirements="C")
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
    plans: ProjectionPlans | None = None,
    max_bytes: int = 2**30,
    dtype: type = np.float64,
    parallel: bool = True,
) -> list[np.ndarray]:
    """``[project(tree, marginals, r, total) for r in cliques]``, sharing work across them.

    Every plan of a run is known before it runs, so the shared tables are counted by how
    many projections take them (:class:`ProjectionCache` with ``uses``): each is computed
    once and dropped after its last user, up to ``max_bytes`` held at once. The first
    ``PROJECTIONS_PER_TASK`` run alone (building the model's lazily computed tables);
    when those took more than ``THREADED_PROJECTION_S`` each and this process may use
    several cores (``parallel``), the rest are shared out: the cliques are dealt into one
    contiguous share per core (at most 8, :func:`~dpquilt.graphical.projection_processes.shares`),
    this process plans and runs the first and worker processes, kept by ``plans``, the
    others (:mod:`dpquilt.graphical.projection_processes`: planning is Python, and threads
    of one process wait on each other for it). Where no worker can run, the rest run on
    threads of this process: numpy's contractions release the GIL. Either way BLAS runs
    one thread in each (``threadpoolctl``): BLAS's own threads beside ours oversubscribed
    the cores (a 47-column round's projections: 6.8 s with them, 3.8 s without).
    Marginals from a worker differ from this process's by rounding only (its plans take
    the products its own earlier plans made).

    ``dtype=np.float32`` contracts in single precision and returns float64 marginals:
    the contractions read half the bytes (a 47-column round with a 3.5 M-cell node:
    7.2-7.6 s to 4.4-4.5 s), at a relative error of about 1e-6 of the total (0.04 of
    11,427 rows on that round). AIM's scores, which compare these marginals with counts
    under noise of several rows, ask for it.

    Examples
    --------
    >>> from dpquilt.graphical.calibration import calibrate
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> d = {"a": 2, "b": 2, "c": 2}
    >>> tree = build_junction_tree(d, [("a", "b"), ("b", "c")])
    >>> same = np.log(np.array([[9.0, 1.0], [1.0, 9.0]]))
    >>> marginals = calibrate(tree, d, {("a", "b"): same, ("b", "c"): same}, total=100.0)
    >>> [m.round(6).tolist() for m in project_many(tree, marginals, [("a", "c"), ("c",)], 100.0)]
    [[[41.0, 9.0], [9.0, 41.0]], [50.0, 50.0]]
    """
    domain = _domain_of(tree, marginals)
    plans = plans if plans is not None else ProjectionPlans()
    if dtype != np.float64:
        marginals = {node: np.asarray(table, dtype=dtype) for node, table in marginals.items()}
    source = _source(marginals, total)
    cores = min(_cores(), MAX_WORKERS) if parallel else 1
    sharing = cores > 1 and plans.worker_processes and len(cliques) > PROJECTIONS_PER_TASK
    parts = shares(cliques, sorted(domain), plans.share_weights(cores)) if sharing else [list(range(len(cliques)))]
    out: list[np.ndarray | None] = [None] * len(cliques)
    cache = ProjectionCache(max_bytes, {})

    def run(ids: Sequence[int], batch: Sequence[ProjectionPlan]) -> None:
        for i, plan in zip(ids, batch):
            out[i] = run_plan(plan, source, cache)
            cache.release(plan.shared_keys)

    def planned(ids: Sequence[int]) -> list[ProjectionPlan]:
        batch = [plans.plan(tree, domain, cliques[i]) for i in ids]
        cache.count(batch)
        return batch

    first = parts[0][:PROJECTIONS_PER_TASK]
    start = time.perf_counter()
    run(first, planned(first))
    took = time.perf_counter() - start
    heavy = took >= THREADED_PROJECTION_S * len(first)
    others = parts[1:] if sharing and took * len(cliques) >= SHARED_BATCH_S * len(first) else []
    workers: list[ProjectionWorker] = []
    for worker, ids in zip(plans.workers(len(others)) if others else [], others):
        try:
            worker.submit(JunctionTree(tree.nodes, tree.edges, tree.order), marginals, [cliques[i] for i in ids], total, max_bytes)
        except OSError as failure:  # no process could start: this process takes the shares left, from now on
            log.warning("no projection worker could start (%r); this sequence's projections are computed here", failure)
            plans.worker_processes = False
            break
        workers.append(worker)
    rest = [i for part in [parts[0], *parts[1 + len(workers) :]] for i in part][len(first) :]
    with threadpool_limits(limits=1, user_api="blas") if heavy or workers else contextlib.nullcontext():
        batch = planned(rest)
        if workers or not heavy or cores < 2:
            run(rest, batch)
        else:  # no worker process: the rest on threads of this process
            tasks = [range(k, min(k + PROJECTIONS_PER_TASK, len(rest))) for k in range(0, len(rest), PROJECTIONS_PER_TASK)]
            with ThreadPoolExecutor(cores) as pool:
                list(pool.map(lambda task: run([rest[k] for k in task], [batch[k] for k in task]), tasks))
        seconds = [time.perf_counter() - start]
        for worker, ids in zip(workers, others):
            try:
                out_of_worker, worker_seconds = worker.result()
            except WorkerFailed as failure:  # its share, and the sequence's later batches, are computed here
                log.warning("%s; its %d projections, and later batches, are computed here", failure, len(ids))
                plans.worker_processes = False
                run(ids, planned(ids))
                continue
            seconds.append(worker_seconds)
            for i, table in zip(ids, out_of_worker):
                out[i] = table
    if workers and len(seconds) == len(parts):
        plans.balance([len(part) / max(s, 1e-9) for part, s in zip(parts, seconds)])
    return _as_float64(out)


def serve_as_worker() -> None:
    """A projection worker process's body (:mod:`dpquilt.graphical.projection_processes`):
    answer :func:`project_many` requests on standard input until it ends."""
    serve_standard_streams(ProjectionPlans(), project_many)


def _cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _as_float64(tables: list[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(t, dtype=np.float64) for t in tables]


#: projections run alone first, to time them, and handed to a thread at a time where no worker
#: process runs (numpy's contractions release the GIL, so threads share large models'
#: projections: 1.8x on 2 cores for a model with 10^6-cell nodes)
PROJECTIONS_PER_TASK = 64
#: sharing a batch only pays when a projection is mostly numpy: at 0.07 ms a projection (a
#: 55-column model of small nodes) two threads were slower (15 s to 22 s a seeded fit), at 3 ms faster
THREADED_PROJECTION_S = 5e-4
#: most cores (this process and its workers, or its threads) a batch is shared between
MAX_WORKERS = 8
#: a batch is shared with worker processes when its first projections say that it would take
#: this long here (sending the model and taking the answers back cost a few ms to tens of ms)
SHARED_BATCH_S = 0.25


def projection_layout(tree: JunctionTree, domain: Mapping[str, int], cols: Sequence[str], memo: dict | None = None) -> tuple:
    """What the plan of ``cols`` depends on, named by content (node columns), not positions:

    * ``("inside", node)``: the smallest node holding every column;
    * ``("components", ((g, layout of g), ...))``: columns of separate components;
    * ``("subtree", ((node, parent), ...))``: the covering subtree (:func:`_steiner_subtree`),
      rooted at its largest node (``parent`` None), in breadth-first order.

    Examples
    --------
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> d = {"a": 2, "b": 3, "c": 2, "e": 2}
    >>> tree = build_junction_tree(d, [("a", "b"), ("b", "c"), ("e",)])
    >>> projection_layout(tree, d, ("a", "c"))
    ('subtree', ((('a', 'b'), None), (('b', 'c'), ('a', 'b'))))
    >>> projection_layout(tree, d, ("a", "e"))
    ('components', ((('a',), ('inside', ('a', 'b'))), (('e',), ('inside', ('e',)))))

    ``memo`` (optional, one per tree and domain) keeps the layouts of the components'
    column groups: on a wide table's early rounds most candidates span components.
    """
    cols = tuple(cols)
    holding = set(tree.holding[cols[0]]).intersection(*(tree.holding[a] for a in cols[1:]))
    if holding:
        if len(holding) == 1:
            return ("inside", tree.nodes[holding.pop()])
        return ("inside", min((tree.nodes[i] for i in holding), key=lambda node: (_cells(domain, node), node)))
    groups: dict[int, list[str]] = {}
    for a in cols:
        groups.setdefault(tree.components[a], []).append(a)
    if len(groups) > 1:
        memo = memo if memo is not None else {}
        parts = []
        for g in map(tuple, groups.values()):
            part = memo.get(g)
            if part is None:
                part = memo[g] = projection_layout(tree, domain, g)
            parts.append((g, part))
        return ("components", tuple(parts))
    subtree = _steiner_subtree(tree, domain, cols)
    root = min(subtree, key=lambda i: (-_cells(domain, tree.nodes[i]), tree.nodes[i]))
    order, queue, seen = [], [(root, None)], {root}
    while queue:
        i, parent = queue.pop(0)
        order.append((tree.nodes[i], parent))
        for j in sorted((j for j in tree._neighbours[i] if j in subtree and j not in seen), key=lambda j: tree.nodes[j]):
            seen.add(j)
            queue.append((j, tree.nodes[i]))
    return ("subtree", tuple(order))


def plan_projection(tree: JunctionTree, domain: Mapping[str, int], cols: Sequence[str]) -> ProjectionPlan:
    """The steps of the marginal over ``cols`` (see the module docstring).

    Examples
    --------
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> tree = build_junction_tree({"a": 2, "b": 2, "c": 2}, [("a", "b"), ("b", "c")])
    >>> [step.key[0] for step in plan_projection(tree, {"a": 2, "b": 2, "c": 2}, ("a", "c")).steps]
    ['root', 'conditional', 'node', 'output']
    """
    return plan_of_layout(projection_layout(tree, domain, cols), domain, tuple(cols))


def plan_of_layout(
    layout: tuple,
    domain: Mapping[str, int],
    cols: Clique,
    output: Hashable = OUTPUT,
    made: dict[Hashable, Step] | None = None,
    memo: PlanningMemo | None = None,
) -> ProjectionPlan:
    """The steps of the marginal over ``cols`` laid out as ``layout`` (:func:`projection_layout`);
    the last is named ``output``.

    ``made`` (optional, a :class:`MadeSteps`) holds the shared steps of earlier plans by
    key: a step's key determines it, so plans that take the same step share one, and the
    elimination takes the products earlier plans made first (:func:`shared_greedy_order`). Inputs name a node's
    marginal ``(NODE, node)`` or the total; every other table is a step:

    * ``("conditional", node, sep)``: ``mu_K / mu_S``, the node given its separator with
      its parent in the subtree (0 where the separator has no mass);
    * ``("root", node, own)`` and ``("node", node, sep, own)``: the subtree root's marginal
      and the others' conditionals summed onto what the other factors or the output need;
    * ``("product", factors, out)``: an elimination step (:func:`_elimination_steps`);
    * ``("arranged", table, layout)``: a table summed and transposed into a matrix
      product's layout (:func:`_contraction_steps`).

    ``memo`` (optional, one per domain: :class:`PlanningMemo`) keeps what planning asks
    again and again across plans.
    """
    memo = memo if memo is not None else PlanningMemo.of(domain)
    made = made if made is not None else MadeSteps(memo.mask)
    kind, content = layout
    if kind == "inside":
        return ProjectionPlan((_step(made, output, ((NODE, content),), lambda: functools.partial(_marginalise_onto, attrs=content, keep=cols)),), layout)
    if kind == "components":  # independent components: the product of their marginals
        steps: list[Step] = []
        for g, part in content:
            known = {s.key for s in steps}
            steps.extend(s for s in plan_of_layout(part, domain, g, ("component", g), made, memo).steps if s.key not in known)
        groups = [g for g, _ in content]
        product = _einsum_plan(groups, domain, cols)
        steps.append(_step(made, output, (*(("component", g) for g in groups), TOTAL), lambda: functools.partial(_component_product, product, len(groups))))
        return ProjectionPlan(tuple(steps), layout)
    neighbours: dict[Clique, list[Clique]] = {node: [] for node, _ in content}
    for node, parent in content:
        if parent is not None:
            neighbours[node].append(parent)
            neighbours[parent].append(node)
    steps = []
    factors: list[tuple[Clique, Hashable, int]] = []
    cols_mask = memo.mask(cols)
    for node, parent in content:
        near = cols_mask
        for other in neighbours[node]:
            near |= memo.mask(other)
        own, axes = memo.within(node, near)  # what the other factors or the output need, and the rest
        if parent is None:  # the root's marginal
            step = _step(made, ("root", node, own), ((NODE, node),), lambda: functools.partial(_sum_axes, axes=axes))
        else:  # the others' conditionals given their parent's separator
            sep, _ = memo.within(node, memo.mask(parent))
            given = _step(made, ("conditional", node, sep), ((NODE, node),), lambda: functools.partial(conditional_given, attrs=node, given=sep))
            steps.append(given)
            step = _step(made, ("node", node, sep, own), (given.key,), lambda: functools.partial(_sum_axes, axes=axes))
        steps.append(step)
        factors.append((own, step.key, memo.mask(own)))
    steps.extend(_elimination_steps(factors, cols, domain, output, made, memo))
    return ProjectionPlan(tuple(steps), layout)


def _step(made: dict[Hashable, Step], key: Hashable, inputs: tuple[Hashable, ...], compute: Callable[[], Callable[..., np.ndarray]]) -> Step:
    """The step named ``key`` (made by ``compute()`` the first time); an ``OUTPUT`` step is the plan's own."""
    if key == OUTPUT:
        return Step(key, inputs, compute(), shared=False)
    step = made.get(key)
    if step is None:
        step = made[key] = Step(key, inputs, compute())
    return step


def _elimination_steps(
    factors: Sequence[tuple[Clique, Hashable, int]], keep: Clique, domain: Mapping[str, int], output: Hashable, made: dict[Hashable, Step],
    memo: PlanningMemo,
) -> list[Step]:
    """``sum`` over the columns not in ``keep`` of the product of ``factors``, by variable
    elimination in greedy min-size order.

    Each factor comes with a key that names its content, and its columns as bits
    (:class:`PlanningMemo`; AIM plans ~10^4 projections a round); a step's product is
    named by its factors' keys and what it keeps.

    A plan's own output is eliminated by :func:`shared_greedy_order`, which takes the
    products other plans made first. A shared output (a component's marginal, named by
    its columns alone) takes plain :func:`greedy_order`: its inputs must not depend on
    what was planned before it, since every plan that names it reads the one step."""
    masks, keys, keep_mask = [mask for _, _, mask in factors], [key for _, key, _ in factors], memo.mask(keep)
    if output == OUTPUT:
        products, final = shared_greedy_order(masks, keys, keep_mask, memo, made)
    else:
        products, final = greedy_order(masks, keep_mask, memo)
    attrs = [attrs for attrs, _, _ in factors]
    steps: list[Step] = []
    for ids, out_mask in products:
        out = memo.names(out_mask)  # in the domain's order
        key = ("product", frozenset(keys[i] for i in ids), out)
        step = _contraction_steps(steps, made, memo, domain, key, [keys[i] for i in ids], [attrs[i] for i in ids], out)
        attrs.append(out)
        keys.append(step.key)  # the made step's key: equal keys are then the same object, quick to compare
    _contraction_steps(steps, made, memo, domain, output, [keys[i] for i in final], [attrs[i] for i in final], keep)
    return steps


def _contraction_steps(
    steps: list[Step], made: dict[Hashable, Step], memo: PlanningMemo, domain: Mapping[str, int], key: Hashable,
    inputs: Sequence[Hashable], operands: Sequence[Clique], keep: Clique,
) -> Step:
    """Append to ``steps`` the step ``key`` (the product of the tables ``inputs``, over
    ``operands``, summed onto ``keep``, in its order) and the steps it takes, and return it.

    Two tables whose product spans more than ``DIRECT_EINSUM_CELLS`` cells are multiplied
    as matrices (:func:`~dpquilt.graphical.pairwise.plan_pairwise`), each first arranged
    into the product's layout by a step of its own, named by the table and the layout, that
    every product reading the table so shares (on STAR's round-70 model at epsilon 1, the
    batch's projections 3.09 s to 2.79 s on two threads, 4.04 s to 3.67 s on one)."""
    operands = tuple(operands)
    if len(operands) != 2 or memo.cells(memo.mask(operands[0]) | memo.mask(operands[1])) <= DIRECT_EINSUM_CELLS:
        step = _step(made, key, tuple(inputs), lambda: memo.contraction(operands, domain, keep))
        steps.append(step)
        return step
    plan = memo.pairwise(operands, domain, keep)
    a_key, b_key = (inputs[1], inputs[0]) if plan.swap else (inputs[0], inputs[1])
    if plan.a_arrange is not None:
        arranged = _step(made, ("arranged", a_key, plan.a_cols), (a_key,), lambda: plan.a_arrange)
        steps.append(arranged)
        a_key = arranged.key
    if plan.b_arrange is not None:
        arranged = _step(made, ("arranged", b_key, plan.b_cols), (b_key,), lambda: plan.b_arrange)
        steps.append(arranged)
        b_key = arranged.key
    step = _step(made, key, (a_key, b_key), lambda: plan.product)
    steps.append(step)
    return step


def shared_greedy_order(
    masks: Sequence[int], keys: Sequence[Hashable], keep: int, memo: PlanningMemo, made: Mapping[Hashable, Step]
) -> tuple[list[tuple[tuple[int, ...], int]], tuple[int, ...]]:
    """:func:`greedy_order`'s elimination, except that a product an earlier plan already
    made (its key, named by its factors' ``keys`` and what it keeps, is in ``made``)
    costs nothing, so it is taken first.

    AIM's candidates share most of their work, but min-size elimination, run for each
    plan alone, often reaches the same marginal through products no other plan takes:
    on STAR's round-70 model at epsilon 1 this rule halved the cells the batch's distinct
    products span (7.5 G to 3.9 G) and took its projections from 2.40 s to 1.84 s (round
    95: 2.21 s to 1.53 s). With a :class:`MadeSteps` on tables of at most 64 columns the
    choice runs compiled (:func:`~dpquilt.graphical.compiled_elimination.shared_products`),
    which looks products up by signature; otherwise, in Python, by key.

    Examples
    --------
    >>> memo = PlanningMemo.of({"a": 2, "b": 3, "c": 2, "d": 4})
    >>> a, b, c, d = (memo.bit[x] for x in "abcd")
    >>> keys = [("node", n) for n in ("ab", "bc", "cd")]
    >>> shared_greedy_order([a | b, b | c, c | d], keys, a | d, memo, MadeSteps(memo.mask)) == greedy_order([a | b, b | c, c | d], a | d, memo)
    True
    >>> made = MadeSteps(memo.mask)  # c first: that product was made before
    >>> made.adopt(ProjectionPlan((Step(("product", frozenset(keys[1:]), ("b", "d")), (), np.copy),)))
    >>> shared_greedy_order([a | b, b | c, c | d], keys, a | d, memo, made)
    ([((1, 2), 10)], (0, 3))
    >>> _shared_greedy_order_python([a | b, b | c, c | d], keys, a | d, memo, made)
    ([((1, 2), 10)], (0, 3))
    """
    if memo.byte_cells is not None and isinstance(made, MadeSteps):
        signatures = np.array([made.signature(key) for key in keys], dtype=np.uint64)
        steps, pointers, involved, outs, final = shared_products(
            np.array(masks, dtype=np.uint64), signatures, np.uint64(keep), memo.byte_cells, memo.position_ranks, made.signatures
        )
        if steps >= 0:
            ids = involved[: pointers[steps]].tolist()
            bounds = pointers[: steps + 1].tolist()
            return [(tuple(ids[bounds[k] : bounds[k + 1]]), int(outs[k])) for k in range(steps)], tuple(final.tolist())
    return _shared_greedy_order_python(masks, keys, keep, memo, made)


def _shared_greedy_order_python(
    masks: Sequence[int], keys: Sequence[Hashable], keep: int, memo: PlanningMemo, made: Mapping[Hashable, Step]
) -> tuple[list[tuple[tuple[int, ...], int]], tuple[int, ...]]:
    """:func:`shared_greedy_order` on Python's integers and the products' keys (any number of columns, any cell count)."""
    cells, rank, names = memo.cells, memo.rank, memo.names
    work = list(masks)
    ids = list(range(len(masks)))
    work_keys = list(keys)
    hidden = 0
    for mask in masks:
        hidden |= mask
    hidden &= ~keep
    products: list[tuple[tuple[int, ...], int]] = []
    while hidden and len(work) > 2:
        best = None
        rest_bits = hidden
        while rest_bits:
            b = rest_bits & -rest_bits
            rest_bits ^= b
            union, outside, inside = 0, keep, []
            for j, mask in enumerate(work):
                if mask & b:
                    union |= mask
                    inside.append(j)
                else:
                    outside |= mask
            out = union & outside
            size = cells(union)
            key = ("product", frozenset(work_keys[j] for j in inside), names(out))
            score = (key not in made, size, rank[b])
            if best is None or score < best[0]:
                best = (score, inside, union, out, key)
        _, inside, union, out, key = best
        step = made.get(key)
        products.append((tuple(ids[j] for j in inside), out))
        left = [j for j in range(len(work)) if j not in inside]
        work = [work[j] for j in left] + [out]
        work_keys = [work_keys[j] for j in left] + [step.key if step is not None else key]
        ids = [ids[j] for j in left] + [len(masks) + len(products) - 1]
        hidden &= ~(union & ~out)
    return products, tuple(ids)


class MadeSteps(dict):
    """The shared steps of a tree's plans by key (``made`` in :func:`plan_of_layout`), and a
    signature of each product among them (:func:`~dpquilt.graphical.compiled_elimination.product_signature`
    of its factors' signatures and columns; a step of any other kind is signed by its key's
    hash), noted as the product is put in, which the compiled :func:`shared_greedy_order`
    looks up instead of the key. ``mask`` gives the bits of some columns (:meth:`PlanningMemo.mask`).

    Examples
    --------
    >>> made = MadeSteps(PlanningMemo.of({"a": 2}).mask)
    >>> step = Step(("product", frozenset({("node", ("a",), (), ("a",))}), ("a",)), (), np.copy)
    >>> made[step.key] = step
    >>> np.uint64(made.signature(step.key)) in made.signatures
    True
    """

    def __init__(self, mask: Callable[[Clique], int]) -> None:
        super().__init__()
        self.mask = mask
        self.signatures = numba.typed.Dict.empty(key_type=numba.types.uint64, value_type=numba.types.uint8)
        self._products: dict[Hashable, int] = {}  # each product's signature, once worked out

    def __setitem__(self, key: Hashable, step: Step) -> None:
        if key not in self and isinstance(key, tuple) and key[0] == "product":  # a typed dict's item is dear to set from Python (~10 us): once
            self.signatures[np.uint64(self.signature(key))] = np.uint8(1)
        super().__setitem__(key, step)

    def signature(self, key: Hashable) -> int:
        """The signature of the step named ``key`` (a product's is worked out from its factors' the first time)."""
        if isinstance(key, tuple) and key and key[0] == "product":
            found = self._products.get(key)
            if found is None:
                inputs = 0
                for factor in key[1]:
                    inputs ^= self.signature(factor)
                found = self._products[key] = product_signature(inputs, self.mask(key[2]))
            return found
        return hash(key) & 0xFFFFFFFFFFFFFFFF

    def adopt(self, plan: ProjectionPlan) -> None:
        """Take the shared steps of a plan kept from the tree before, so that new plans reuse its products."""
        for step in plan.steps:
            if step.shared and step.key not in self:
                self[step.key] = step


def greedy_order(masks: Sequence[int], keep: int, memo: PlanningMemo) -> tuple[list[tuple[tuple[int, ...], int]], tuple[int, ...]]:
    """The products of a greedy min-size variable elimination of factors over the column
    masks ``masks`` onto the columns ``keep`` (Koller and Friedman 2009, Section 9.4.3.1).

    While a column outside ``keep`` is left and more than two factors are (two are one
    contraction), the factors holding the hidden column whose product is smallest (ties by
    the column's name) are multiplied, keeping what ``keep`` or the other factors need,
    with every other column only those factors held summed out. A column asked for that
    lives in a leaf behind a small separator is thus joined last, instead of being carried
    through every node between it and the others.

    Factors are numbered as given, then each product in turn. Returns each product's
    factors (in the work list's order: the factors left, then the products) and columns,
    and the factors left for the last contraction. On tables of at most 64 columns the
    choice runs compiled (:func:`~dpquilt.graphical.compiled_elimination.greedy_products`).

    Examples
    --------
    >>> memo = PlanningMemo.of({"a": 2, "b": 3, "c": 2, "d": 4})
    >>> a, b, c, d = (memo.bit[x] for x in "abcd")
    >>> greedy_order([a | b, b | c, c | d], a | d, memo)  # b first (12 cells, with a and c), then a last contraction
    ([((0, 1), 5)], (2, 3))
    >>> greedy_order([a | b, b | c, c | d], a | d, memo) == _greedy_order_python([a | b, b | c, c | d], a | d, memo)
    True
    """
    if memo.byte_cells is not None:
        steps, pointers, involved, outs, final = greedy_products(
            np.array(masks, dtype=np.uint64), np.uint64(keep), memo.byte_cells, memo.position_ranks
        )
        if steps >= 0:
            ids = involved[: pointers[steps]].tolist()
            bounds = pointers[: steps + 1].tolist()
            return [(tuple(ids[bounds[k] : bounds[k + 1]]), int(outs[k])) for k in range(steps)], tuple(final.tolist())
    return _greedy_order_python(masks, keep, memo)


def _greedy_order_python(masks: Sequence[int], keep: int, memo: PlanningMemo) -> tuple[list[tuple[tuple[int, ...], int]], tuple[int, ...]]:
    """:func:`greedy_order` on Python's integers (any number of columns, any cell count)."""
    cells, rank, n = memo.cells, memo.rank, len(memo.bit)
    work = list(enumerate(masks))
    hidden = 0
    for mask in masks:
        hidden |= mask
    hidden &= ~keep
    products: list[tuple[tuple[int, ...], int]] = []
    sizes: dict[int, int] = {}  # cells of a set of columns, asked again and again
    while hidden and len(work) > 2:
        holders: dict[int, int] = {}  # the columns of the factors holding each hidden column
        for _, mask in work:
            rest_bits = mask & hidden
            while rest_bits:
                low = rest_bits & -rest_bits
                holders[low] = holders.get(low, 0) | mask
                rest_bits ^= low
        best, least = 0, -1
        for b, held in holders.items():  # the smallest product; ties by name
            size = sizes.get(held)
            if size is None:
                size = sizes[held] = cells(held)
            score = size * n + rank[b]
            if least < 0 or score < least:
                best, least = b, score
        involved = [f for f in work if f[1] & best]
        rest = [f for f in work if not f[1] & best]
        outside, union = keep, 0
        for _, mask in rest:
            outside |= mask
        for _, mask in involved:
            union |= mask
        out = union & outside
        products.append((tuple(i for i, _ in involved), out))
        work = [*rest, (len(masks) + len(products) - 1, out)]
        hidden &= ~(union & ~out)
    return products, tuple(i for i, _ in work)


#: most entries a :class:`PlanningMemo` carries to the next tree in each of its lookups of
#: contractions, names, masks and node parts (beyond it that lookup starts again: a long run's
#: trees stay cheap to hold; a 47-column AIM run made about 244,000 distinct contractions)
MEMO_ENTRIES = 1 << 18


@dataclass(frozen=True)
class PlanningMemo:
    """What planning asks again and again for one domain: each column's bit, the cells
    of a set of bits, each bit's rank in name order (the greedy rule's tie-break; for the
    compiled elimination, on tables of at most 64 columns, also as byte tables of the
    sizes and an array of ranks by bit position), the
    columns of a mask (:meth:`names`), the mask of columns (:meth:`mask`), a node's
    columns inside a mask (:meth:`within`), and the contractions made (a contraction
    depends only on its operands' columns and what it keeps: over AIM's rounds on a
    47-column table, 55% of those asked had been made for the same tree and 43% of the
    others for an earlier one). Everything is carried from tree to tree (:meth:`moved`) up
    to :data:`MEMO_ENTRIES` entries in each lookup; past it, that lookup starts again, so
    that a long sequence of trees does not hold everything it ever made.

    Examples
    --------
    >>> memo = PlanningMemo.of({"b": 2, "a": 3})
    >>> memo.bit, memo.cells(0b11), sorted(memo.rank.items())  # "a" (bit 2) comes first by name
    ({'b': 1, 'a': 2}, 6, [(1, 1), (2, 0)])
    >>> made = memo.contraction((("a", "b"), ("b",)), {"b": 2, "a": 3}, ("a",))
    >>> made is memo.moved().moved().contraction((("a", "b"), ("b",)), {"b": 2, "a": 3}, ("a",))  # kept from tree to tree
    True
    """

    bit: dict[str, int]
    cells: Callable[[int], int]
    rank: dict[int, int]
    made: dict = field(default_factory=dict, compare=False)
    named: dict[int, Clique] = field(default_factory=dict, compare=False)
    masks: dict[Clique, int] = field(default_factory=dict, compare=False)
    parts: dict[tuple[Clique, int], tuple[Clique, tuple[int, ...]]] = field(default_factory=dict, compare=False)
    byte_cells: np.ndarray | None = field(default=None, compare=False)
    position_ranks: np.ndarray | None = field(default=None, compare=False)

    @classmethod
    def of(cls, domain: Mapping[str, int]) -> PlanningMemo:
        names = tuple(domain)
        sizes = tuple(int(n) for n in domain.values())
        ranks = _name_ranks(names)
        compiled = len(names) <= MAX_COLUMNS
        return cls(
            {a: 1 << k for k, a in enumerate(names)},
            _cell_counter(sizes),
            {1 << k: rank for k, rank in enumerate(ranks)},
            byte_cells=byte_tables(sizes) if compiled else None,
            position_ranks=np.array([*ranks, *range(len(names), MAX_COLUMNS)], dtype=np.int64) if compiled else None,
        )

    def moved(self) -> PlanningMemo:
        """The memo for the next tree: the lookups carried, each while under :data:`MEMO_ENTRIES` entries."""
        carried = [d if len(d) < MEMO_ENTRIES else {} for d in (self.made, self.named, self.masks, self.parts)]
        return PlanningMemo(self.bit, self.cells, self.rank, *carried, byte_cells=self.byte_cells, position_ranks=self.position_ranks)

    def mask(self, attrs: Clique) -> int:
        """The bits of ``attrs``."""
        found = self.masks.get(attrs)
        if found is None:
            found = 0
            for a in attrs:
                found |= self.bit[a]
            self.masks[attrs] = found
        return found

    def within(self, node: Clique, mask: int) -> tuple[Clique, tuple[int, ...]]:
        """The columns of ``node`` in ``mask`` (in the node's order), and the positions of the others."""
        found = self.parts.get((node, mask))
        if found is None:
            bit = self.bit
            found = self.parts[(node, mask)] = (
                tuple(a for a in node if bit[a] & mask),
                tuple(k for k, a in enumerate(node) if not bit[a] & mask),
            )
        return found

    def names(self, mask: int) -> Clique:
        """The columns of ``mask``, in the domain's order."""
        found = self.named.get(mask)
        if found is None:
            found = self.named[mask] = tuple(a for a, b in self.bit.items() if b & mask)
        return found

    def pairwise(self, operands: tuple[Clique, ...], domain: Mapping[str, int], keep: Clique) -> PairwisePlan:
        """:func:`~dpquilt.graphical.pairwise.plan_pairwise` of two operands onto ``keep``, made once for each."""
        key = ("pairwise", operands, keep)
        found = self.made.get(key)
        if found is None:
            found = self.made[key] = plan_pairwise((operands[0], operands[1]), domain, keep)
        return found

    def contraction(self, operands: tuple[Clique, ...], domain: Mapping[str, int], keep: Clique) -> Callable[..., np.ndarray]:
        """:func:`_contraction`, made once for each operands and ``keep`` (the domain is this memo's)."""
        key = (operands, keep)
        found = self.made.get(key)
        if found is None:
            found = self.made[key] = _contraction(operands, domain, keep)
        return found


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
    with np.errstate(invalid="ignore"):  # OpenBLAS's flag on finite tables, as in MatrixProduct
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


def _steiner_subtree(tree: JunctionTree, domain: Mapping[str, int], cols: Clique) -> set[int]:
    """Nodes of a small subtree that covers ``cols`` (columns of one component, as
    :func:`projection_layout` asks): greedy cover (the node holding most of the columns
    still uncovered, ties to the smaller node, then by columns, so that the choice
    depends on the nodes' content and not their positions), each chosen node joined to
    the first by its tree path."""
    remaining, chosen = set(cols), []
    holding = tree.holding
    while remaining:
        coverage: dict[int, int] = {}
        for a in remaining:
            for i in holding[a]:
                coverage[i] = coverage.get(i, 0) + 1
        best = min(coverage, key=lambda i: (-coverage[i], _cells(domain, tree.nodes[i]), tree.nodes[i]))
        chosen.append(best)
        remaining -= tree.node_sets[best]
    keep = {chosen[0]}
    for target in chosen[1:]:
        path = tree.path(chosen[0], target)
        if path is None:
            raise ValueError(f"columns {cols} span components: project them one component at a time")
        keep.update(path)
    return keep
