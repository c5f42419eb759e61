"""The accelerated estimator: same optimum as mirror descent, exact warm starts, log Z, termination."""

import itertools

import numpy as np
import pytest

from dpquilt.graphical.accelerated import accelerated_descent, node_log_potentials
from dpquilt.graphical.junction import build_junction_tree
from dpquilt.graphical.mirror_descent import MarginalProblem, mirror_descent
from dpquilt.graphical.calibration import calibrate
from dpquilt.graphical.model import EstimationOptions, GraphicalModel, estimate
from dpquilt.marginals.tables import marginalise
from dpquilt.marginals.measurement import noisy_total
from dpquilt.graphical.propagation import Propagation
from dpquilt.marginals.measurement import Measurement

DOMAIN = {"a": 3, "b": 4, "c": 2, "d": 3}
CYCLE = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]  # a 4-cycle: the junction tree needs fill-in


def _measurements(rng, cliques=CYCLE, sigma=3.0):
    joint = rng.dirichlet(np.ones(int(np.prod(list(DOMAIN.values()))))).reshape(tuple(DOMAIN.values())) * 1000
    names = list(DOMAIN)
    out = []
    for cl in [(a,) for a in names] + list(cliques):
        table = joint.sum(axis=tuple(i for i, a in enumerate(names) if a not in cl))
        out.append(Measurement(cl, table.ravel() + rng.normal(0, sigma, table.size), sigma))
    return out


def test_log_partition_matches_brute_force(rng):
    cliques = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]
    tree = build_junction_tree(DOMAIN, cliques)
    plan = Propagation(tree.nodes, tree.edges, DOMAIN, cliques)
    tables = [rng.normal(0, 2, [DOMAIN[a] for a in c]) for c in cliques]
    before = [t.copy() for t in tables]
    _, log_z = plan.calibrate(tables, total=1.0)
    for t, b in zip(tables, before):  # the caller's tables are never written to
        np.testing.assert_array_equal(t, b)
    names = list(DOMAIN)
    scores = []
    for x in itertools.product(*(range(DOMAIN[a]) for a in names)):
        value = dict(zip(names, x))
        scores.append(sum(t[tuple(value[a] for a in c)] for t, c in zip(tables, cliques)))
    expected = np.log(np.sum(np.exp(scores)))
    assert log_z == pytest.approx(expected, rel=1e-12)


def test_reaches_the_same_optimum_as_long_mirror_descent(rng):
    ms = _measurements(rng)
    total = noisy_total(ms)
    problem = MarginalProblem(DOMAIN, ms, total)
    theta = mirror_descent(DOMAIN, ms, total, iters=20000)
    md_loss = problem.loss(problem.marginals([theta[c] for c in problem.cliques]))
    fit = accelerated_descent(DOMAIN, ms, total, iters=3000)
    assert fit.loss == pytest.approx(md_loss, rel=1e-4, abs=1e-3)
    model = GraphicalModel(DOMAIN, total, fit.potentials)
    md_model = GraphicalModel(DOMAIN, total, theta)
    for cl in CYCLE + [("a", "c"), ("b", "d")]:
        np.testing.assert_allclose(model.project(cl), md_model.project(cl), atol=0.5)


def test_far_closer_to_the_optimum_than_mirror_descent_after_as_many_steps(rng):
    ms = _measurements(rng, sigma=0.3)
    total = noisy_total(ms)
    problem = MarginalProblem(DOMAIN, ms, total)
    best = accelerated_descent(DOMAIN, ms, total, iters=5000).loss
    theta = mirror_descent(DOMAIN, ms, total, iters=150)
    md_excess = problem.loss(problem.marginals([theta[c] for c in problem.cliques])) - best
    excess = accelerated_descent(DOMAIN, ms, total, iters=150).loss - best
    assert md_excess > 0
    assert excess < 0.2 * md_excess


def test_node_potentials_reproduce_their_marginals(rng):
    ms = _measurements(rng)
    total = noisy_total(ms)
    fit = accelerated_descent(DOMAIN, ms, total, iters=50)
    model = GraphicalModel(DOMAIN, total, fit.potentials)
    problem = MarginalProblem(DOMAIN, ms, total)
    nodes = model.node_marginals
    again = node_log_potentials(problem.tree, [nodes[n] for n in problem.tree.nodes])
    for node, table in again.items():
        np.testing.assert_allclose(np.exp(table - table.max()), np.exp(fit.potentials[node] - fit.potentials[node].max()),
                                   rtol=1e-9, atol=1e-12)
    assert problem.loss([model.project(c) for c in problem.cliques]) == pytest.approx(fit.loss, rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cliques", [CYCLE, [("a", "b"), ("c", "d")]], ids=["one tree", "a forest"])
def test_the_fit_hands_its_model_the_calibration_of_its_potentials(rng, dtype, cliques):
    """The fitted model keeps the fit's node marginals instead of calibrating its potentials again:
    they must be that calibration, consistent on every separator in float64."""
    ms = _measurements(rng, cliques)
    total = noisy_total(ms)
    fit = accelerated_descent(DOMAIN, ms, total, iters=40, dtype=dtype)
    again = calibrate(fit.tree, DOMAIN, fit.potentials, total)
    assert set(fit.marginals) == set(fit.tree.nodes)
    for node in fit.tree.nodes:
        assert fit.marginals[node].dtype == np.float64
        np.testing.assert_allclose(fit.marginals[node], again[node], rtol=1e-9, atol=1e-9 * total)
    for i, j in fit.tree.edges:
        left, right = fit.tree.nodes[i], fit.tree.nodes[j]
        shared = tuple(a for a in DOMAIN if a in left and a in right)
        np.testing.assert_allclose(marginalise(fit.marginals[left], left, shared), marginalise(fit.marginals[right], right, shared),
                                   rtol=1e-12, atol=1e-12 * total)
    model = estimate(DOMAIN, ms, EstimationOptions(iters=40, single_precision=dtype == np.float32))
    for node, table in calibrate(model.tree, DOMAIN, model.potentials, model.total).items():
        np.testing.assert_allclose(model.node_marginals[node], table, rtol=1e-9, atol=1e-9 * total)


def test_a_model_refuses_marginals_that_are_not_over_its_nodes(rng):
    fit = accelerated_descent(DOMAIN, _measurements(rng), 1000.0, iters=5)
    wrong = {("a", "b"): np.ones((3, 4))}
    with pytest.raises(ValueError, match="junction tree's nodes"):
        GraphicalModel.calibrated(DOMAIN, 1000.0, fit.tree, fit.potentials, wrong)


def test_a_warm_start_begins_where_the_last_fit_ended(rng):
    """AIM adds a clique each round: starting from the previous model's marginals on the new
    junction tree keeps every old clique's marginal, so ten steps already fit as well as the
    previous fit did, where a cold start is still far off."""
    ms = _measurements(rng)
    total = noisy_total(ms)
    first = GraphicalModel(DOMAIN, total, accelerated_descent(DOMAIN, ms, total, iters=2000).potentials)
    problem = MarginalProblem(DOMAIN, ms, total)
    first_loss = problem.loss([first.project(c) for c in problem.cliques])
    more = ms + [Measurement(("a", "c"), first.project(("a", "c")).ravel(), 3.0)]
    warm = accelerated_descent(DOMAIN, more, total, iters=10, warm_marginal=first.project)
    cold = accelerated_descent(DOMAIN, more, total, iters=10)
    assert warm.loss <= first_loss * 1.01 + 1e-9
    assert cold.loss > 5 * first_loss


def test_a_boundary_optimum_ends_without_overflow():
    """A negative noisy count puts the optimum on the boundary (a cell of zero mass): the
    step grows while every test passes, which once overflowed the potentials and never
    ended; the descent must stop on its own with a finite fit."""
    ms = [Measurement(("a",), np.array([-40.0, 100.0, 60.0]), 0.1), Measurement(("a", "b"), np.array([-5.0, -5, 60, 40, 30, 30]), 0.1)]
    domain = {"a": 3, "b": 2}
    fit = accelerated_descent(domain, ms, 160.0, iters=100_000)
    assert fit.iterations < 100_000
    assert np.isfinite(fit.loss)
    p = np.exp(fit.potentials[next(iter(fit.potentials))])
    assert np.all(np.isfinite(p))


def test_a_too_long_first_step_is_halved_until_it_passes(rng):
    """A warm start begins its step search at the previous fit's last step; one far too
    long is cut back by the backtracking and the fit is unchanged."""
    ms = _measurements(rng)
    total = noisy_total(ms)
    plain = accelerated_descent(DOMAIN, ms, total, iters=3000)
    bold = accelerated_descent(DOMAIN, ms, total, iters=3000, initial_step=1e6 * plain.step)
    assert bold.loss == pytest.approx(plain.loss, rel=1e-4, abs=1e-3)
    assert 0 < plain.step < 1e6 * plain.step


def test_estimate_carries_the_step_into_a_warm_start(rng):
    from dpquilt.graphical.model import EstimationOptions, estimate

    ms = _measurements(rng)
    first = estimate(DOMAIN, ms, EstimationOptions(iters=300))
    assert first.step is not None and first.step > 0
    again = estimate(DOMAIN, ms, EstimationOptions(iters=300), warm_start=first)
    assert again.step is not None


def test_single_precision_calibrates_in_float32_and_reaches_the_same_fit(rng, monkeypatch):
    """``dtype=np.float32`` keeps the node tables in float32 (every calibration sees them
    so) while the loss and the step test stay in float64: the descent takes the same steps
    (its step test allows for float32's rounding of the new marginals: without that, the
    rounding failed the test near the optimum and the step collapsed, 0.0003 against 0.009),
    reaches the same loss, and returns float64 potentials."""
    ms = _measurements(rng)
    total = noisy_total(ms)
    seen = set()
    real = Propagation.propagate

    def recording(self, potential, log_scale, total):
        seen.update(t.dtype for t in potential)
        out = real(self, potential, log_scale, total)
        seen.update(t.dtype for t in out[0])
        return out

    monkeypatch.setattr(Propagation, "propagate", recording)
    single = accelerated_descent(DOMAIN, ms, total, iters=100, dtype=np.float32)
    assert seen == {np.dtype(np.float32)}
    seen.clear()
    double = accelerated_descent(DOMAIN, ms, total, iters=100)
    assert seen == {np.dtype(np.float64)}
    assert single.iterations == double.iterations
    assert single.step == pytest.approx(double.step, rel=1e-9)  # every step accepted or halved alike
    assert single.loss == pytest.approx(double.loss, rel=1e-6)
    assert {t.dtype for t in single.potentials.values()} == {np.dtype(np.float64)}
    near, far = GraphicalModel(DOMAIN, total, single.potentials), GraphicalModel(DOMAIN, total, double.potentials)
    for cl in CYCLE + [("a", "c")]:
        np.testing.assert_allclose(near.project(cl), far.project(cl), atol=1e-5 * total)  # float32 rounding, accumulated
    converged = accelerated_descent(DOMAIN, ms, total, iters=3000)
    assert accelerated_descent(DOMAIN, ms, total, iters=3000, dtype=np.float32).loss == pytest.approx(converged.loss, rel=2e-6)


@pytest.mark.parametrize(
    "descend, until, checks",
    [
        (lambda ms, watch: accelerated_descent(DOMAIN, ms, noisy_total(ms), iters=500, watch=watch).potentials, 30, [10, 20, 30]),
        (lambda ms, watch: mirror_descent(DOMAIN, ms, noisy_total(ms), iters=1000, watch=watch), 100, [50, 100]),
    ],
    ids=["accelerated", "mirror_descent"],
)
def test_a_watch_sees_each_measurements_answer_at_the_iterate_and_may_end_the_descent(rng, descend, until, checks):
    ms = _measurements(rng)
    seen = {}

    def watch(it, answer_of):
        seen[it] = answer_of(len(ms) - 1).copy()
        return it >= until

    potentials = descend(ms, watch)
    assert sorted(seen) == checks  # asked at every check, and the descent ended at the one that said so
    model = GraphicalModel(DOMAIN, noisy_total(ms), potentials)
    np.testing.assert_allclose(seen[until], model.project(ms[-1].cols).ravel(), rtol=1e-9)


def test_a_watch_is_refused_outside_the_numpy_engine(rng):
    from dpquilt.graphical.model import EstimationOptions, estimate

    options = EstimationOptions(engine="mbi", algorithm="mirror_descent", noise_level_stop=None, round_noise_level_stop=None)
    with pytest.raises(ValueError, match="numpy engine"):
        estimate(DOMAIN, _measurements(rng), options, watch=lambda it, answer_of: False)
