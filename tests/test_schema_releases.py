"""Pay once: the counts schema learning released are reused as 1-way measurements, at no cost."""

import math

import numpy as np
import pandas as pd
import pytest

import dpquilt.synthesizers.marginal as synthesizer_module
from dpquilt import MarginalSynthesizer
from dpquilt.marginals.measurement import Measurement, cell_measurement, merge_measurements, merge_priors
from dpquilt.marginals.compression import compress
from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.noise import SeededNoise
from dpquilt.schema.codec import encode
from dpquilt.schema.learning import prepare_table
from dpquilt.schema.point_masses import MISSING_KEY
from dpquilt.schema.releases import CountRelease
from dpquilt.schema.specs import CategoricalColumn, NumericColumn


def _table(rows=6000, seed=0):
    rng = np.random.default_rng(seed)
    city = rng.choice(["oslo", "rome", "lima", "pune"], size=rows, p=[0.5, 0.3, 0.15, 0.05])
    debt = np.where(rng.random(rows) < 0.7, 0.0, rng.lognormal(7, 1, rows))
    return pd.DataFrame({"city": city, "debt": debt, "term": rng.choice([36, 60], size=rows)})


def test_merged_measurement_is_the_unbiased_inverse_variance_estimate():
    rng = np.random.default_rng(0)
    truth = np.array([100.0, 50.0, 10.0])
    s1, s2 = 4.0, 3.0
    estimates, deviations = [], None
    for _ in range(4000):
        full = Measurement(("a",), truth + rng.normal(0, s1, 3), s1)
        extra = cell_measurement("a", 3, np.array([0, 2]), truth[[0, 2]] + rng.normal(0, s2, 2), s2)
        m = merge_measurements(full, extra)
        estimates.append(m.noisy / m.weights)
        deviations = m.sigma / m.weights
    estimates = np.array(estimates)
    both = 1.0 / math.sqrt(1 / s1**2 + 1 / s2**2)
    np.testing.assert_allclose(deviations, [both, s1, both])
    np.testing.assert_allclose(estimates.mean(axis=0), truth, atol=0.25)
    np.testing.assert_allclose(estimates.std(axis=0), [both, s1, both], rtol=0.06)


def test_merge_needs_a_full_first_measurement_of_the_same_clique():
    partial = cell_measurement("a", 2, np.array([0]), np.array([5.0]), 1.0)
    with pytest.raises(ValueError, match="every cell"):
        merge_measurements(partial, partial)
    with pytest.raises(ValueError, match="same cells"):
        merge_measurements(Measurement(("b",), np.ones(2), 1.0), partial)
    assert merge_priors([Measurement(("b",), np.ones(2), 1.0)], [partial])[0].weights is None  # unmeasured: dropped


def test_compression_of_unit_weights_is_unchanged_and_weights_carry_through():
    plain = Measurement(("a",), np.array([100.0, 2.0, 1.0, 50.0]), 2.0)
    _, (m,) = compress([plain], {"a": 4})
    np.testing.assert_allclose(m.noisy, [100.0, 50.0, 3.0 / math.sqrt(2)])
    np.testing.assert_allclose(m.weights, [1.0, 1.0, 1.0 / math.sqrt(2)])
    weighted = Measurement(("a",), np.array([100.0, 2.0, 1.0, 50.0]) * 2.0, 2.0, np.full(4, 2.0))
    compression, (m,) = compress([weighted], {"a": 4})
    assert compression.merged["a"].tolist() == [1, 2]  # estimates 2 and 1 stay under 3 of their deviations (1)
    np.testing.assert_allclose(m.noisy / m.weights, [100.0, 50.0, 3.0])
    np.testing.assert_allclose(m.sigma / m.weights, [1.0, 1.0, math.sqrt(2)])  # two deviations of 1 add


def test_released_counts_map_to_the_codes_they_count():
    df = _table()
    acc = Accountant(1.0, 1e-9, secure=False)
    prepared = prepare_table(df, None, 0.3, acc, SeededNoise(np.random.default_rng(1)))
    codes = encode(prepared.frame, prepared.schema).data.columns
    by_column = {r.column: r for r in prepared.releases}
    assert set(by_column) == {"city", "debt", "term"}  # categories, and the numeric columns' point masses
    for name, release in by_column.items():
        spec = prepared.schema[name]
        cells, counts = release.cells(spec)
        assert cells.size > 0
        exact = np.bincount(codes[name], minlength=spec.size)[cells]
        assert np.all(np.abs(counts - exact) < 6 * release.sigma), name
        assert f"{release.what}" in [e.what for e in acc.ledger]
    assert prepared.schema["debt"].points[0] == 0.0


def test_a_release_skips_values_without_a_code():
    spec = NumericColumn("x", lower=0, upper=10, bins=2, points=(0.0,), missing=False)
    release = CountRelease("x", {0.0: 900, 5.0: 40, MISSING_KEY: 3}, 2.0, "point masses of 'x'")
    cells, counts = release.cells(spec)
    assert cells.tolist() == [2] and counts.tolist() == [900.0]
    cat = CategoricalColumn("c", categories=("a",), other=True, missing=True)
    cells, _ = CountRelease("c", {"a": 5, MISSING_KEY: 7}, 1.0, "categories of 'c'").cells(cat)
    assert cells.tolist() == [cat.categories.index("a"), cat.missing_code]


@pytest.mark.parametrize("method", ["mst", "aim"])
def test_reuse_costs_nothing_and_sharpens_the_one_way_cells(method, monkeypatch):
    df = _table(seed=2)
    kwargs = dict(epsilon=1.0, method=method, random_state=3, verbose=False, rounds=4 if method == "aim" else None)
    fitted = []
    real_estimate = synthesizer_module.estimate

    def recording_estimate(domain, measurements, *args, **kw):
        fitted.append(list(measurements))
        return real_estimate(domain, measurements, *args, **kw)

    monkeypatch.setattr(synthesizer_module, "estimate", recording_estimate)
    merged = MarginalSynthesizer(**kwargs).fit(df)
    with_prior = fitted[-1]
    seen = {}
    real = synthesizer_module.schema_measurements

    def no_reuse(releases, schema):
        seen["prior"] = real(releases, schema)
        return []

    monkeypatch.setattr(synthesizer_module, "schema_measurements", no_reuse)
    alone = MarginalSynthesizer(**kwargs).fit(df)
    without = fitted[-1]
    ledger = lambda syn: [(e.what, e.rho, e.delta) for e in syn.accountant_.ledger]  # noqa: E731
    assert ledger(merged) == ledger(alone)  # the same spends, entry for entry: reuse is post-processing
    assert {m.cols for m in seen["prior"]} == {("city",), ("debt",), ("term",)}

    def city_deviations(measurements):
        m = next(m for m in measurements if m.cols == ("city",))  # the first: AIM may measure it again in a round
        return m.sigma / m.cell_weights

    sharper, plain = city_deviations(with_prior), city_deviations(without)
    prior_sigma = next(m.sigma for m in seen["prior"] if m.cols == ("city",))
    expected = 1.0 / np.sqrt(1.0 / plain[0] ** 2 + 1.0 / prior_sigma**2)
    assert sharper[:4] == pytest.approx(np.full(4, expected))  # the four cities: both measurements
    assert sharper[:4].max() < plain[:4].min()
