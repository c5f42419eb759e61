"""Numpy junction-tree inference agrees with brute force on small models."""

import itertools

import numpy as np
import pytest

from dpquilt.graphical.calibration import calibrate
from dpquilt.graphical.junction import build_junction_tree
from dpquilt.graphical.projection import ProjectionCache, project


def brute_force(domain, log_potentials, total):
    names = list(domain)
    joint = np.zeros([domain[a] for a in names])
    for clique, table in log_potentials.items():
        t = np.transpose(table, [clique.index(a) for a in names if a in clique])
        shape = [domain[a] if a in clique else 1 for a in names]
        joint = joint + t.reshape(shape)
    p = np.exp(joint - joint.max())
    return p / p.sum() * total, names


CASES = [
    # a chain, a cycle (needs fill-in), and two components
    [("a", "b"), ("b", "c"), ("c", "d")],
    [("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")],
    [("a", "b"), ("c", "d")],
    [("a", "b", "c"), ("c", "d"), ("b", "e")],
    # long paths and forests (a marginal over components: each component's covering nodes are
    # joined by their own paths, whichever component is covered first)
    [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("e", "f"), ("f", "g"), ("g", "h"), ("h", "i")],
    [("a", "b", "c"), ("c", "d"), ("d", "e", "f"), ("f", "g"), ("c", "h"), ("h", "i"), ("e", "j")],
    [("a", "b"), ("b", "c"), ("c", "d"), ("e", "f"), ("f", "g"), ("h", "i")],
    [("a", "b"), ("c", "d"), ("d", "e"), ("e", "f")],
]


@pytest.mark.parametrize("cliques", CASES)
def test_marginals_match_brute_force(cliques, rng):
    names = sorted({a for c in cliques for a in c})
    domain = {a: int(k) for a, k in zip(names, rng.integers(2, 4, len(names)))}
    pots = {c: rng.normal(size=[domain[a] for a in c]) for c in cliques}
    tree = build_junction_tree(domain, cliques)
    marg = calibrate(tree, domain, pots, total=500.0)
    joint, order = brute_force(domain, pots, 500.0)
    shared = ProjectionCache()  # one cache for every projection of this model, as AIM keeps it
    for r in (1, 2, 3):
        for cols in itertools.combinations(names, r):
            for perm in (cols, cols[::-1]):
                expected = joint.sum(axis=tuple(i for i, a in enumerate(order) if a not in perm))
                expected = np.transpose(expected, [[a for a in order if a in perm].index(a) for a in perm])
                np.testing.assert_allclose(project(tree, marg, perm, 500.0), expected, rtol=1e-8, atol=1e-8)
                np.testing.assert_allclose(project(tree, marg, perm, 500.0, cache=shared), expected, rtol=1e-8, atol=1e-8)
    assert shared.entries, "the projections shared nothing"


def test_numpy_mirror_descent_matches_mbi_cold_estimation(rng):
    """The warm-started numpy estimator (AIM's inner loop) agrees with mbi's estimate."""
    from dpquilt.graphical.model import EstimationOptions, estimate
    from dpquilt.marginals.counting import count
    from dpquilt.schema.dataset import Dataset
    from dpquilt.marginals.measurement import Measurement

    domain = {"a": 3, "b": 4, "c": 5, "d": 2}
    n = 2000
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(0, 2, n)) % 4
    c = (b + rng.integers(0, 3, n)) % 5
    d = (c > 2).astype(int)
    data = Dataset({"a": a, "b": b, "c": c, "d": d}, domain)
    cliques = [("a",), ("b",), ("c",), ("d",), ("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]
    ms = [Measurement(cl, count(data, cl).ravel() + rng.normal(0, 4, count(data, cl).size), 4.0) for cl in cliques]
    cold = estimate(domain, ms, EstimationOptions(iters=3000, noise_level_stop=None, round_noise_level_stop=None, engine="mbi", algorithm="mirror_descent"))
    # warm start in two stages, as AIM does: first the 1-way model, then all measurements
    numpy_md = EstimationOptions(iters=3000, noise_level_stop=None)
    warm = estimate(domain, ms[:4], EstimationOptions(iters=200, noise_level_stop=None))
    warm = estimate(domain, ms, numpy_md, warm_start=warm)
    for cl in [("a", "b"), ("b", "c"), ("a", "c"), ("b", "d")]:
        np.testing.assert_allclose(warm.project(cl), cold.project(cl), atol=0.5)
    # a warm start keeps the fit: a few more accelerated steps, or mbi's mirror descent from numpy's
    # mirror-descent potentials, stay at the optimum
    again = estimate(domain, ms, EstimationOptions(iters=5, noise_level_stop=None), warm_start=warm)
    np.testing.assert_allclose(again.project(("a", "b")), cold.project(("a", "b")), atol=0.5)
    md = estimate(domain, ms, EstimationOptions(iters=3000, noise_level_stop=None, algorithm="mirror_descent"))
    again = estimate(domain, ms, EstimationOptions(iters=200, noise_level_stop=None, round_noise_level_stop=None, engine="mbi", algorithm="mirror_descent"), warm_start=md)
    np.testing.assert_allclose(again.project(("a", "b")), cold.project(("a", "b")), atol=0.5)


@pytest.mark.parametrize("iters,tol", [(50, 1e-8), (150, 1e-8), (1000, 1e-2)])
def test_numpy_engine_follows_mbi_iterate_for_iterate(rng, iters, tol):
    """Same algorithm, step rule and start: the engines agree step for step (until float
    rounding flips one line-search decision; later both approach the same optimum)."""
    from dpquilt.graphical.model import EstimationOptions, estimate
    from dpquilt.marginals.measurement import Measurement

    domain = {"a": 3, "b": 4, "c": 5, "d": 2, "e": 3}
    cliques = [("a",), ("b",), ("c",), ("d",), ("e",), ("a", "b"), ("b", "c", "d"), ("d", "e"), ("a", "e")]
    truth = {cl: rng.integers(10, 60, size=int(np.prod([domain[a] for a in cl]))).astype(float) for cl in cliques}
    ms = [Measurement(cl, truth[cl] + rng.normal(0, 3, truth[cl].size), 3.0) for cl in cliques]
    models = [
        estimate(domain, ms, EstimationOptions(iters=iters, noise_level_stop=None, round_noise_level_stop=None, engine=e, algorithm="mirror_descent"))
        for e in ("numpy", "mbi")
    ]
    for cl in [("a", "b"), ("b", "c", "d"), ("a", "d"), ("c", "e")]:
        np.testing.assert_allclose(models[0].project(cl), models[1].project(cl), rtol=tol, atol=tol)


def test_a_node_without_potentials_is_uniform_given_its_separator():
    from dpquilt.graphical.propagation import Propagation

    domain = {"a": 2, "b": 3, "c": 4}
    table = np.log(np.arange(1.0, 7.0).reshape(2, 3))
    plan = Propagation([("a", "b"), ("b", "c")], [(0, 1)], domain, [("a", "b")])
    ab, bc = plan.marginals([table], total=21.0)
    np.testing.assert_allclose(ab, np.exp(table))
    np.testing.assert_allclose(bc, np.repeat(np.exp(table).sum(axis=0)[:, None] / 4, 4, axis=1))


@pytest.mark.parametrize("cliques", CASES)
def test_calibration_scales_every_node_to_the_total_and_recovers_log_z(cliques, rng):
    """Each node's belief is scaled to the total through its downward message (its mass read on
    the separator), roots by their own sum: every node marginal matches brute force, cells of
    zero potential included, and so does log Z."""
    from dpquilt.graphical.propagation import Propagation

    names = sorted({a for c in cliques for a in c})
    domain = {a: int(k) for a, k in zip(names, rng.integers(2, 4, len(names)))}
    pots = {c: 3 * rng.normal(size=[domain[a] for a in c]) for c in cliques}
    for table in pots.values():
        table[rng.random(table.shape) < 0.2] = -np.inf  # cells of zero mass
    tree = build_junction_tree(domain, cliques)
    plan = Propagation(tree.nodes, tree.edges, domain, list(pots))
    marginals, log_z = plan.calibrate(list(pots.values()), total=250.0)
    joint, order = brute_force(domain, pots, 250.0)
    unnormalised = sum(np.transpose(t, [c.index(a) for a in order if a in c]).reshape([domain[a] if a in c else 1 for a in order]) for c, t in pots.items())
    finite = unnormalised[np.isfinite(unnormalised)]
    assert log_z == pytest.approx(finite.max() + np.log(np.exp(finite - finite.max()).sum()), rel=1e-12)
    for node, table in zip(tree.nodes, marginals):
        expected = joint.sum(axis=tuple(i for i, a in enumerate(order) if a not in node))
        np.testing.assert_allclose(table, expected, rtol=1e-9, atol=1e-9)
        assert table.sum() == pytest.approx(250.0, rel=1e-12)


def calibrated_chain(rng, length, size, total):
    """A random chain model ``x0 - x1 - ... `` of ``length`` columns, calibrated."""
    names = [f"x{i}" for i in range(length)]
    domain = {a: size for a in names}
    cliques = [(names[i], names[i + 1]) for i in range(length - 1)]
    tree = build_junction_tree(domain, cliques)
    marg = calibrate(tree, domain, {c: rng.normal(0, 1, (size, size)) for c in cliques}, total=total)
    return names, tree, marg


def test_wide_tables_beyond_52_columns_calibrate_consistently(rng):
    """einsum has 52 subscript letters; subscripts are per node, so a 70-column chain works."""
    names, _, marg = calibrated_chain(rng, 70, 3, 100.0)
    for table in marg.values():
        assert table.sum() == pytest.approx(100.0)
    for i in range(68):  # neighbouring pairs agree on the column they share
        left, right = marg[(names[i], names[i + 1])], marg[(names[i + 1], names[i + 2])]
        np.testing.assert_allclose(left.sum(axis=0), right.sum(axis=1), rtol=1e-9)


def test_projection_across_a_wide_subtree_matches_the_chain_rule(rng):
    """A marginal of two far-apart columns of a 70-column chain (a subtree over 61 columns)."""
    from dpquilt.graphical.projection import project

    names, tree, marg = calibrated_chain(rng, 70, 2, 1.0)

    def chain_rule(last):  # p(x0, x_last) = p(x0, x1) prod_k p(x_{k+1} | x_k)
        joint = marg[("x0", "x1")]
        for k in range(1, last):
            pair = marg[(names[k], names[k + 1])]
            joint = joint @ (pair / pair.sum(axis=1, keepdims=True))
        return joint

    np.testing.assert_allclose(project(tree, marg, ("x0", "x60"), 1.0), chain_rule(60), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(project(tree, marg, ("x0", "x2"), 1.0), chain_rule(2), rtol=1e-9)


def test_model_size_equals_mbis_hypothetical_model_size():
    """AIM's size filter must size models exactly as the reference does."""
    import mbi
    from mbi import junction_tree

    from dpquilt.graphical.sizes import model_size_mb

    rng = np.random.default_rng(7)
    for _ in range(200):
        names = [f"c{i}" for i in range(int(rng.integers(4, 20)))]
        domain = {a: int(rng.integers(2, 20)) for a in names}
        cliques = [tuple(rng.choice(names, size=int(rng.integers(1, 4)), replace=False)) for _ in range(int(rng.integers(2, 12)))]
        expected = junction_tree.hypothetical_model_size(mbi.Domain.fromdict(domain), cliques)
        assert model_size_mb(domain, cliques) == pytest.approx(expected, rel=1e-12)


def test_sum_out_equals_numpy_sum_for_every_set_of_axes(rng):
    from dpquilt.marginals.tables import sum_out

    shapes = [tuple(int(k) for k in rng.integers(1, 5, ndim)) for ndim in range(1, 6)]
    shapes += [(32, 9, 7, 15, 6, 2, 2), (40, 30, 50), (3, 100_000), (100_000, 3)]  # past the small-table path
    for shape in shapes:
        table, ndim = rng.random(shape), len(shape)
        for k in range(ndim + 1):
            for axes in itertools.combinations(range(ndim), k):
                np.testing.assert_allclose(sum_out(table, axes), table.sum(axis=axes) if axes else table, rtol=1e-12)


def test_sum_out_keeps_a_float32_table_in_float32(rng):
    """AIM's candidate projections contract float32 tables: a sum that came back as float64
    had first copied the whole table to float64 (and made every later product float64)."""
    from dpquilt.marginals.tables import sum_out

    for shape in [(32, 9, 7, 15, 6, 2, 2), (40, 30, 50), (3, 100_000), (100_000, 3)]:
        table = rng.random(shape).astype(np.float32)
        for k in range(1, len(shape)):
            for axes in itertools.combinations(range(len(shape)), k):
                summed = sum_out(table, axes)
                assert summed.dtype == np.float32, (shape, axes)
                np.testing.assert_allclose(summed, table.astype(np.float64).sum(axis=axes), rtol=1e-5)
