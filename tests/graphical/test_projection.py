"""Projection plans: made once per junction tree, reused across models, same tables as fresh plans."""

import itertools
import pickle

import numpy as np

from dpquilt.graphical.model import GraphicalModel
from dpquilt.graphical.projection import ProjectionCache, ProjectionPlans, project


def _model(rng, domain, cliques, plans=None):
    potentials = {c: rng.normal(size=[domain[a] for a in c]) for c in cliques}
    if plans is None:
        return GraphicalModel(domain, 300.0, potentials)
    return GraphicalModel(domain, 300.0, potentials, plans=plans)


def test_reused_plans_give_the_tables_of_fresh_plans(rng):
    """AIM's next round: new potentials on the same tree run the first round's plans."""
    names = [f"c{i}" for i in range(9)]
    domain = {a: int(k) for a, k in zip(names, rng.integers(2, 5, len(names)))}
    cliques = [("c0", "c1", "c2"), ("c2", "c3"), ("c3", "c4", "c5"), ("c1", "c6"), ("c7", "c8")]
    first = _model(rng, domain, cliques)
    asked = [r for k in (1, 2, 3) for r in itertools.combinations(names, k)]
    for r in asked:
        first.project(r)
    planned = dict(first.plans._by_cols)
    assert len(planned) == len(asked)
    second = _model(rng, domain, cliques, plans=first.plans)
    for r in asked:
        fresh = project(second.tree, second.node_marginals, r, second.total)  # its own products: the same up to rounding
        np.testing.assert_allclose(second.project(r), fresh, rtol=1e-12, err_msg=str(r))
    assert all(second.plans._by_cols[r] is planned[r] for r in asked), "the plans were made again"


def test_a_new_tree_gets_new_plans(rng):
    domain = {"a": 2, "b": 3, "c": 2, "d": 3}
    plans = ProjectionPlans()
    chain = _model(rng, domain, [("a", "b"), ("b", "c"), ("c", "d")], plans)
    chain.project(("a", "d"))
    looped = _model(rng, domain, [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")], plans)
    fresh = project(looped.tree, looped.node_marginals, ("a", "d"), looped.total)
    np.testing.assert_array_equal(looped.project(("a", "d")), fresh)
    assert list(plans._by_cols) == [("a", "d")]  # the chain's plan is not the looped tree's


def test_plans_whose_layout_a_new_clique_left_alone_are_reused(rng):
    """AIM's next round added a clique: plans of subtrees it did not touch are reused, and
    every table equals a fresh plan's."""
    names = [f"c{i}" for i in range(10)]
    domain = {a: int(k) for a, k in zip(names, rng.integers(2, 5, len(names)))}
    cliques = [("c0", "c1", "c2"), ("c2", "c3"), ("c3", "c4"), ("c4", "c5"), ("c5", "c6"), ("c6", "c7"), ("c7", "c8"), ("c8", "c9")]
    before = _model(rng, domain, cliques)
    asked = list(itertools.combinations(names, 3))
    before.project_many(asked)
    earlier = dict(before.plans._by_cols)
    after = _model(rng, domain, cliques + [("c7", "c8", "c9")], plans=before.plans)
    got = after.project_many(asked)
    reused = [r for r in asked if after.plans._by_cols[r] is earlier[r]]
    assert 0 < len(reused) < len(asked)
    for r, table in zip(asked, got):
        # equal up to the order of float sums (a kept plan may share a product another plan's factors made)
        np.testing.assert_allclose(table, project(after.tree, after.node_marginals, r, after.total), rtol=1e-12, err_msg=str(r))


def test_plans_are_kept_across_a_tree_that_rejoined_its_nodes_only_where_their_subtree_stayed():
    """A new clique may make the junction tree join nodes it kept by other edges: a kept
    plan's covering subtree must then still be made of edges, and every plan's layout is
    the one worked out afresh."""
    from dpquilt.graphical.junction import build_junction_tree
    from dpquilt.graphical.projection import projection_layout

    rng = np.random.default_rng(0)
    rejoined = kept = 0
    for _ in range(10):
        names = [f"c{i}" for i in range(10)]
        domain = {a: int(k) for a, k in zip(names, rng.integers(2, 5, len(names)))}
        cliques = [(a,) for a in names]
        plans = ProjectionPlans()
        asked = list(itertools.combinations(names, 3))
        for _ in range(6):
            cliques.append(tuple(sorted(rng.choice(names, size=3, replace=False).tolist())))
            tree = build_junction_tree(domain, cliques)
            earlier = dict(plans._by_cols)
            for r in asked:
                assert plans.plan(tree, domain, r).layout == projection_layout(tree, domain, r), (r, cliques)
            if plans._edges is not None:
                rejoined += 1
                kept += sum(plans._by_cols[r] is earlier.get(r) for r in asked)
    assert rejoined > 0 and kept > 0, "no tree rejoined its nodes, or no plan was kept across one"


def test_a_pickled_model_leaves_its_plans_behind(rng):
    domain = {"a": 2, "b": 3, "c": 2}
    model = _model(rng, domain, [("a", "b"), ("b", "c")])
    expected = model.project(("a", "c"))
    copy = pickle.loads(pickle.dumps(model))
    assert copy.plans._by_cols == {}
    np.testing.assert_array_equal(copy.project(("a", "c")), expected)


def test_a_batch_computes_each_shared_table_once_and_keeps_none(rng, monkeypatch):
    """project_many counts which projections take each shared table: each is computed once,
    dropped after its last user, and every answer equals a lone projection."""
    import collections

    import dpquilt.graphical.projection as projection_module

    calls = collections.Counter()
    original = projection_module._sum_axes

    def counted(table, axes):
        calls[(id(table), axes)] += 1
        return original(table, axes)

    monkeypatch.setattr(projection_module, "_sum_axes", counted)  # before any plan is made: plans bind it
    names = [f"c{i}" for i in range(8)]
    domain = {a: int(k) for a, k in zip(names, rng.integers(2, 4, len(names)))}
    cliques = [("c0", "c1"), ("c1", "c2"), ("c2", "c3", "c4"), ("c4", "c5"), ("c3", "c6"), ("c6", "c7")]
    model = _model(rng, domain, cliques)
    asked = list(itertools.combinations(names, 3))
    created = []
    monkeypatch.setattr(projection_module, "ProjectionCache", lambda *a, **k: created.append(ProjectionCache(*a, **k)) or created[-1])
    got = model.project_many(asked)
    assert calls and max(calls.values()) == 1, "a node's reduced table was computed twice"
    (cache,) = created
    assert cache.entries == {} and cache.bytes == 0
    for r, table in zip(asked, got):
        np.testing.assert_allclose(table, project(model.tree, model.node_marginals, r, model.total), rtol=1e-12, atol=1e-12)


def test_shared_tables_are_kept_in_c_order(rng):
    """Large contractions come back from numpy as transposed views; kept so, they slowed every
    later contraction that read them (up to 100 times), so marginals and shared products are
    laid out in C order."""
    names = [f"c{i}" for i in range(7)]
    domain = dict.fromkeys(names, 12)
    cliques = [("c0", "c1", "c2"), ("c2", "c3", "c4"), ("c4", "c5", "c6")]
    model = _model(rng, domain, cliques)
    tables = [model.project(r) for r in itertools.permutations(names, 3)]
    tables += [table for key, table in model.projection_cache.entries.items() if key[0] == "product"]
    assert all(table.flags.c_contiguous for table in tables)


def test_projection_threads_run_blas_on_one_thread_each(rng, monkeypatch):
    """Threads that each start BLAS's own threads oversubscribe the cores; inside the batch's
    threads BLAS runs one thread, and after the batch its setting is back."""
    threadpoolctl = __import__("threadpoolctl")
    import dpquilt.graphical.projection as projection_module

    if not any(info["user_api"] == "blas" for info in threadpoolctl.threadpool_info()):
        return  # numpy without a BLAS library: nothing to limit
    monkeypatch.setattr(projection_module, "THREADED_PROJECTION_S", 0.0)
    monkeypatch.setattr(projection_module, "PROJECTIONS_PER_TASK", 2)
    monkeypatch.setattr(projection_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    seen = []
    original = projection_module.run_plan

    def recording(plan, source, cache):
        seen.append(max(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"))
        return original(plan, source, cache)

    monkeypatch.setattr(projection_module, "run_plan", recording)
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    names = [f"c{i}" for i in range(6)]
    domain = dict.fromkeys(names, 3)
    cliques = [("c0", "c1"), ("c1", "c2"), ("c2", "c3"), ("c3", "c4"), ("c4", "c5")]
    model = _model(rng, domain, cliques, plans=ProjectionPlans(worker_processes=False))  # threads, not worker processes
    model.project_many(list(itertools.combinations(names, 3)))
    assert len(seen) == 20 and set(seen[2:]) == {1}  # the first task runs on the calling thread, as before
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"] == before


def test_single_precision_projections_match_double_to_a_millionth_of_the_total(rng, monkeypatch):
    """AIM's scores read the model in float32: every contraction runs in float32 (half the
    bytes read), and the answers come back as float64 within 1e-6 of the total."""
    import dpquilt.graphical.projection as projection_module

    seen = set()
    original = projection_module.run_plan

    def recording(plan, source, cache):
        seen.update(np.asarray(source(step_input)).dtype for step in plan.steps for step_input in step.inputs
                    if isinstance(step_input, tuple) and step_input[:1] == (projection_module.NODE,))
        return original(plan, source, cache)

    monkeypatch.setattr(projection_module, "run_plan", recording)
    names = [f"c{i}" for i in range(8)]
    domain = {a: int(k) for a, k in zip(names, rng.integers(3, 7, len(names)))}
    cliques = [("c0", "c1", "c2"), ("c2", "c3", "c4"), ("c4", "c5"), ("c3", "c6", "c7")]
    model = _model(rng, domain, cliques)
    asked = list(itertools.combinations(names, 3))
    single = model.project_many(asked, single_precision=True)
    assert seen == {np.dtype(np.float32)}
    seen.clear()
    double = model.project_many(asked)
    assert seen == {np.dtype(np.float64)}
    for r, a, b in zip(asked, single, double):
        assert a.dtype == np.float64, r
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * model.total)
    assert any(not np.array_equal(a, b) for a, b in zip(single, double)), "float32 gave float64's exact answers"


def test_compiled_elimination_orders_equal_pythons(rng):
    from dpquilt.graphical.projection import PlanningMemo, _greedy_order_python, greedy_order

    checked = 0
    for width in (5, 12, 47, 64):
        names = [f"c{k:02d}" for k in rng.permutation(width)]  # name order differs from bit order: ties by name
        memo = PlanningMemo.of({a: int(rng.integers(2, 6)) for a in names})
        for _ in range(150):
            factors = [int(sum(1 << int(b) for b in rng.choice(width, size=rng.integers(1, min(width, 9) + 1), replace=False))) for _ in range(rng.integers(1, 9))]
            keep = int(sum(1 << int(b) for b in rng.choice(width, size=rng.integers(0, 4), replace=False)))
            compiled = greedy_order(factors, keep, memo)
            assert compiled == _greedy_order_python(factors, keep, memo)
            checked += len(compiled[0])
    assert checked > 500  # products were chosen, not only final contractions


def test_compiled_shared_elimination_orders_equal_pythons(rng):
    """The compiled rule that takes made products first (looked up by signature) chooses
    as the Python one (looked up by key), as products of earlier plans accumulate."""
    from dpquilt.graphical.projection import MadeSteps, PlanningMemo, ProjectionPlan, Step, _shared_greedy_order_python, greedy_order, shared_greedy_order

    checked = changed = 0
    for width in (6, 12, 47):
        names = [f"c{k:02d}" for k in rng.permutation(width)]
        memo = PlanningMemo.of({a: int(rng.integers(2, 6)) for a in names})
        pool = [int(sum(1 << int(b) for b in rng.choice(width, size=rng.integers(1, min(width, 6) + 1), replace=False))) for _ in range(12)]
        made = MadeSteps(memo.mask)
        for _ in range(150):  # plans over a few shared factors, each adding its products to what is made
            chosen = sorted(rng.choice(len(pool), size=rng.integers(3, 8), replace=False).tolist())
            factors, keys = [pool[i] for i in chosen], [("node", i) for i in chosen]
            keep = int(sum(1 << int(b) for b in rng.choice(width, size=rng.integers(1, 4), replace=False)))
            compiled = shared_greedy_order(factors, keys, keep, memo, made)
            assert compiled == _shared_greedy_order_python(factors, keys, keep, memo, made)
            changed += compiled != greedy_order(factors, keep, memo)
            checked += len(compiled[0])
            step_keys = list(keys)
            for ids, out in compiled[0]:
                step = Step(("product", frozenset(step_keys[i] for i in ids), memo.names(out)), (), np.copy)
                made.adopt(ProjectionPlan((step,)))
                step_keys.append(step.key)
    assert checked > 500 and changed > 20, (checked, changed)


def test_elimination_past_exact_float_cells_is_decided_in_python(monkeypatch):
    import dpquilt.graphical.projection as projection

    memo = projection.PlanningMemo.of({f"c{k}": 2**20 for k in range(8)})  # a product of three columns reaches 2**60
    factors = [0b00000111, 0b00011100, 0b01110000, 0b11000001]
    expected = projection._greedy_order_python(factors, 0b10000001, memo)
    calls = []
    monkeypatch.setattr(projection, "_greedy_order_python", lambda *args: calls.append(args) or expected)
    assert projection.greedy_order(factors, 0b10000001, memo) == expected and len(calls) == 1
    small = projection.PlanningMemo.of({f"c{k}": 3 for k in range(8)})
    projection.greedy_order(factors, 0b10000001, small)
    assert len(calls) == 1  # small cells: the compiled kernel decided
    assert memo.byte_cells is not None and projection.PlanningMemo.of({f"c{k}": 2 for k in range(65)}).byte_cells is None


def test_plans_that_take_products_other_plans_made_stay_exact(monkeypatch):
    """A plan eliminates through the products that earlier plans made (shared_greedy_order):
    over growing clique sets, with components and trees that change, every plan of a batch
    reads only its own earlier steps or the model, and every answer equals the marginal of
    the dense joint distribution."""
    import dpquilt.graphical.projection as projection_module
    from dpquilt.graphical.projection import project_many

    original = projection_module.shared_greedy_order
    changed = []

    def counted(masks, keys, keep, memo, made):
        got = original(masks, keys, keep, memo, made)
        changed.append(got != projection_module.greedy_order(masks, keep, memo))
        return got

    monkeypatch.setattr(projection_module, "shared_greedy_order", counted)
    rng = np.random.default_rng(3)
    names = [f"c{i}" for i in range(10)]
    for _ in range(4):
        domain = {a: int(k) for a, k in zip(names, rng.integers(2, 4, len(names)))}
        cliques: list[tuple[str, ...]] = []
        plans = ProjectionPlans()
        asked = list(itertools.combinations(names, 3))
        for _ in range(6):
            cliques.append(tuple(sorted(rng.choice(names, size=int(rng.integers(2, 4)), replace=False).tolist())))
            model = _model(rng, domain, [*cliques, *((a,) for a in names)], plans=plans)
            got = project_many(model.tree, model.node_marginals, asked, model.total, plans)
            for r in asked:
                steps = plans.plan(model.tree, domain, r).steps
                made = set()
                for step in steps:
                    assert all(k == projection_module.TOTAL or k[0] == projection_module.NODE or k in made for k in step.inputs), (r, step.key)
                    made.add(step.key)
            joint = np.zeros([domain[a] for a in names])
            for c, theta in model.potentials.items():
                ordered = np.transpose(theta, np.argsort([names.index(a) for a in c]))  # axes in the names' order
                joint = joint + ordered.reshape([domain[a] if a in c else 1 for a in names])
            joint = np.exp(joint - joint.max())
            joint *= model.total / joint.sum()
            for r, table in zip(asked, got):
                expected = joint.sum(axis=tuple(k for k, a in enumerate(names) if a not in r))
                np.testing.assert_allclose(table, expected, rtol=1e-9, atol=1e-9 * model.total)
    assert any(changed), "no plan took a product that another plan made"
