"""Our sampler draws records i.i.d. from the model: no correlation the model lacks."""

import numpy as np
import pytest

from dpquilt.evaluation.workload_error import workload_error_codes
from dpquilt.graphical.model import EstimationOptions, estimate
from dpquilt.graphical.sampling import sample_codes, sample_conditional
from dpquilt.marginals.counting import count
from dpquilt.schema.dataset import Dataset
from dpquilt.marginals.measurement import Measurement
from tests.conftest import load_shared


def test_sample_conditional_matches_the_conditional(rng):
    joint = np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [5.0, 0.0, 5.0]])
    n = 60_000
    parents = rng.integers(0, 3, n)
    child = sample_conditional(parents, joint, rng.random(n))
    for p in range(3):
        rows = child[parents == p]
        mass = joint[p].sum()
        expected = joint[p] / mass if mass > 0 else np.full(3, 1 / 3)
        freq = np.bincount(rows, minlength=3) / rows.size
        assert np.all(np.abs(freq - expected) < 5 * np.sqrt(expected * (1 - expected) / rows.size) + 1e-12)


def test_independent_model_yields_independent_samples(rng):
    domain = {"a": 3, "b": 4, "c": 5, "d": 2}
    truth = {c: rng.dirichlet(np.ones(k)) * 10_000 for c, k in domain.items()}
    measurements = [Measurement((c,), truth[c], 1.0) for c in domain]
    model = estimate(domain, measurements, EstimationOptions(iters=200))
    synth = sample_codes(model, 40_000, np.random.default_rng(1))
    n = synth.n_rows
    for a, b in [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]:
        joint = count(synth, (a, b)) / n
        product = np.outer(count(synth, (a,)) / n, count(synth, (b,)) / n)
        assert 0.5 * np.abs(joint - product).sum() < 0.02
    for c in domain:
        assert 0.5 * np.abs(count(synth, (c,)) / n - truth[c] / truth[c].sum()).sum() < 0.02


def test_sampling_is_reproducible_with_a_seed():
    domain = {"a": 3, "b": 2}
    ms = [Measurement(("a", "b"), np.array([10.0, 20, 30, 40, 50, 60]), 1.0)]
    model = estimate(domain, ms, EstimationOptions(iters=100))
    s1 = sample_codes(model, 100, np.random.default_rng(9))
    s2 = sample_codes(model, 100, np.random.default_rng(9))
    assert all(np.array_equal(s1.columns[c], s2.columns[c]) for c in domain)


def test_tree_model_reproduces_its_pair_marginals(rng):
    """A chain a-b-c measured exactly: samples match every measured 2-way marginal."""
    domain = {"a": 3, "b": 3, "c": 3}
    n = 50_000
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(0, 2, n)) % 3
    c = (b + rng.integers(0, 2, n)) % 3
    data = Dataset({"a": a, "b": b, "c": c}, domain)
    ms = [Measurement(cl, count(data, cl).ravel().astype(float), 1.0) for cl in [("a", "b"), ("b", "c")]]
    model = estimate(domain, ms, EstimationOptions(iters=1000))
    synth = sample_codes(model, n, np.random.default_rng(2))
    assert workload_error_codes(data, synth, workload=[("a", "b"), ("b", "c")]) < 0.02
    # a and c are conditionally independent given b in both, so the 3-way matches too
    assert workload_error_codes(data, synth, k=3) < 0.03


def test_mst_beats_independent_columns_on_3way_error():
    """The regression seen with mbi 1.1's 'round' sampler: MST output worse than independent columns."""
    import dpquilt as dq

    df, domain = load_shared("adult")
    schema = dq.Schema.from_domain(domain)
    syn = dq.MarginalSynthesizer(epsilon=1.0, schema=schema, random_state=0, verbose=False).fit(df)
    out = syn.sample(len(df), random_state=0)
    rng = np.random.default_rng(0)
    independent = df.apply(lambda col: col.to_numpy()[rng.integers(0, len(df), len(df))])
    err_mst = dq.evaluation.workload_error(df, out, schema, k=3)
    err_ind = dq.evaluation.workload_error(df, independent, schema, k=3)
    assert err_mst < 0.8 * err_ind, (err_mst, err_ind)


def test_stratified_uniforms_are_uniform_and_stratified(rng):
    from dpquilt.graphical.sampling import stratified_uniforms

    group = rng.integers(0, 4, 20_000)
    u = stratified_uniforms(group, rng)
    assert u.min() >= 0 and u.max() < 1
    for g in range(4):
        ug = np.sort(u[group == g])
        m = ug.size
        # exactly one draw in each stratum [r/m, (r+1)/m)
        assert np.array_equal(np.floor(ug * m).astype(int), np.arange(m))


def test_stratified_sampling_keeps_1way_counts_within_one(rng):
    domain = {"a": 7, "b": 5}
    probs = rng.dirichlet(np.ones(35)).reshape(7, 5) * 1000
    model = estimate(domain, [Measurement(("a", "b"), probs.ravel(), 0.5)], EstimationOptions(iters=500))
    n = 1304
    synth = sample_codes(model, n, np.random.default_rng(4))
    root = model.tree.order[-1]  # drawn first: one group holding every row
    expected = model.project((root,)) / model.total * n
    assert np.all(np.abs(count(synth, (root,)) - expected) <= 1.0 + 1e-6)
    # the other column is stratified within each parent group: off by at most one per group
    other = "b" if root == "a" else "a"
    expected = model.project((other,)) / model.total * n
    assert np.all(np.abs(count(synth, (other,)) - expected) <= domain[root] + 1e-6)


@pytest.mark.parametrize("method", ["stratified", "iid"])
def test_both_methods_add_no_correlation(method):
    domain = {"a": 3, "b": 4, "c": 5}
    r = np.random.default_rng(8)
    measurements = [Measurement((c,), r.dirichlet(np.ones(k)) * 5000, 1.0) for c, k in domain.items()]
    model = estimate(domain, measurements, EstimationOptions(iters=200))
    synth = sample_codes(model, 30_000, np.random.default_rng(1), method=method)
    n = synth.n_rows
    for a, b in [("a", "b"), ("b", "c"), ("a", "c")]:
        joint = count(synth, (a, b)) / n
        product = np.outer(count(synth, (a,)) / n, count(synth, (b,)) / n)
        assert 0.5 * np.abs(joint - product).sum() < 0.02
