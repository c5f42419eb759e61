"""The histogram refiner: a fine noisy histogram decides where inside its bin each value lands."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dpquilt as dq
from dpquilt.refiners.histogram import CELL_SIGMAS, HistogramRefiner, cell_counts, plan_cells
from dpquilt.refiners.layout import Layout
from dpquilt.schema.dataset import Dataset
from dpquilt.privacy import Accountant, SeededNoise
from dpquilt.privacy.mechanisms import sigma_for_rho
from dpquilt.schema import CategoricalColumn, NumericColumn, Schema


def _fit(schema, codes, targets, rows, epsilon=3.0, shares=None, seed=0):
    acc = Accountant(epsilon, 1e-9, secure=False)
    ref = HistogramRefiner().fit(Layout.of(schema), codes, targets, acc, public_rows=rows,
                                 noise=SeededNoise(np.random.default_rng(seed)), bin_shares=shares)
    return ref, acc


def test_one_histogram_per_learned_column_spends_all_that_is_left_evenly():
    schema = Schema([CategoricalColumn("c", ("a",)), NumericColumn("x", lower=0, upper=1, bins=4),
                     NumericColumn("k", kind="integer", lower=0, upper=3),  # one bin per value: nothing to learn
                     NumericColumn("y", lower=0, upper=1, bins=2)])
    rng = np.random.default_rng(0)
    n = 2000
    codes = np.stack([np.zeros(n, int), rng.integers(0, 4, n), rng.integers(0, 4, n), rng.integers(0, 2, n)], axis=1)
    ref, acc = _fit(schema, codes, rng.random((n, 2)), n)
    assert [e.what for e in acc.ledger] == ["within-bin histogram of 'x'", "within-bin histogram of 'y'"]
    expected_sigma = sigma_for_rho(acc.rho_budget / 2)
    assert [e.noise_scale for e in acc.ledger] == pytest.approx([expected_sigma] * 2)
    assert acc.rho_spent == pytest.approx(acc.rho_budget)
    assert set(ref.cells_) == {"x", "y"}


def test_cells_follow_the_rows_the_budget_and_the_integers_a_bin_holds():
    few = plan_cells(np.array([0.5, 0.5]), rows=1000, sigma=50.0, slots=None)
    many = plan_cells(np.array([0.5, 0.5]), rows=100_000, sigma=50.0, slots=None)
    assert few.tolist() == [2, 2] and many.tolist() == [64, 64]  # capped per bin
    assert plan_cells(np.array([0.9, 0.1]), rows=10_000, sigma=10.0, slots=(5, 500)).tolist() == [5, 25]
    assert plan_cells(np.array([0.0, 1.0]), rows=10_000, sigma=10.0, slots=None)[0] == 1  # an empty bin keeps one
    assert plan_cells(np.array([1.0]), rows=CELL_SIGMAS * 10.0 * 7, sigma=10.0, slots=None).tolist() == [7]


def test_positions_follow_the_shape_inside_a_bin_and_stay_in_it():
    schema = Schema([NumericColumn("x", lower=0, upper=1, bins=1)])
    rng = np.random.default_rng(1)
    u = rng.beta(2, 8, 20_000)  # crowded at the bottom of the bin
    ref, _ = _fit(schema, np.zeros((u.size, 1), int), u[:, None], u.size)
    pos = ref.sample(Dataset({"x": np.zeros(20_000, int)}, {"x": 3}), rng)["x"]
    assert ((pos >= 0) & (pos < 1)).all()
    grid = np.linspace(0, 1, 11)
    tv = 0.5 * np.abs(np.histogram(pos, grid)[0] - np.histogram(u, grid)[0]).sum() / u.size
    uniform_tv = 0.5 * np.abs(np.full(10, u.size / 10) - np.histogram(u, grid)[0]).sum() / u.size
    assert tv < 0.03 < uniform_tv


def test_missing_and_point_codes_get_no_position():
    schema = Schema([NumericColumn("x", lower=0, upper=1, bins=2, points=(5.0,))])  # codes: 2 bins, point 2, missing 3
    rng = np.random.default_rng(2)
    ref, _ = _fit(schema, rng.integers(0, 2, (500, 1)), rng.random((500, 1)), 500)
    pos = ref.sample(Dataset({"x": np.array([0, 1, 2, 3])}, {"x": 4}), rng)["x"]
    assert np.isfinite(pos[:2]).all() and np.isnan(pos[2:]).all()


def test_a_bin_without_noisy_mass_decodes_uniformly():
    schema = Schema([NumericColumn("x", lower=0, upper=1, bins=2)])
    rng = np.random.default_rng(3)
    ref, _ = _fit(schema, np.zeros((5000, 1), int), rng.random((5000, 1)) * 0.1, 5000, shares={"x": np.array([0.5, 0.5])})
    ref.weights_["x"][ref.cells_["x"][0]:] = 0.0  # the second bin's sub-cells hold nothing
    pos = ref.sample(Dataset({"x": np.ones(20_000, int)}, {"x": 3}), rng)["x"]
    assert abs(pos.mean() - 0.5) < 0.02 and pos.min() < 0.05 and pos.max() > 0.95


def test_an_integer_column_decodes_each_value_at_its_own_frequency():
    """200 integers in 32 wide bins: uniform decoding flattens the odd/even pattern, the histogram keeps it."""
    rng = np.random.default_rng(4)
    n = 30_000
    values = 2 * rng.integers(0, 100, n)  # even numbers 0..198 only
    df = pd.DataFrame({"k": values, "c": rng.choice(["a", "b"], n)})
    schema = {"k": {"kind": "integer", "lower": 0, "upper": 199}, "c": {"categories": ["a", "b"]}}
    out = dq.MarginalSynthesizer(epsilon=5.0, schema=schema, random_state=0, verbose=False).fit(df).sample(n, random_state=0)
    uniform = dq.MarginalSynthesizer(epsilon=5.0, schema=schema, refiner="uniform", random_state=0,
                                     verbose=False).fit(df).sample(n, random_state=0)
    assert out["k"].dtype.kind == "i"
    assert (out["k"] % 2 == 0).mean() > 0.9
    assert 0.4 < (uniform["k"] % 2 == 0).mean() < 0.6


def test_the_synthesizer_gives_the_histogram_its_default_share():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(["a", "b"], 3000)})
    schema = {"x": {"lower": -4, "upper": 4}, "c": {"categories": ["a", "b"]}}
    syn = dq.MarginalSynthesizer(epsilon=1.0, schema=schema, random_state=0, verbose=False).fit(df)
    ledger = syn.accountant_.ledger
    histogram = [e for e in ledger if e.what.startswith("within-bin")]
    assert len(histogram) == 1
    assert histogram[0].rho == pytest.approx(HistogramRefiner().default_share * syn.accountant_.rho_budget, rel=1e-6)
    assert syn.accountant_.rho_spent == pytest.approx(syn.accountant_.rho_budget, rel=1e-6)


_ROW = st.tuples(st.integers(0, 4), st.one_of(st.floats(0, 1, exclude_max=True), st.just(float("nan"))))


@given(st.lists(_ROW, max_size=40), _ROW, st.booleans())
@settings(max_examples=150, deadline=None)
def test_one_row_moves_one_sub_cell_by_one(rows, extra, integers):
    """The histogram's sensitivity: adding a row (in a bin, a point or missing code, or a NaN position)
    changes at most one sub-cell, by one (L1 = L2 = 1)."""
    cells = np.array([3, 1, 2])  # codes 0-2 are bins, 3 a point, 4 missing
    slots = (7, 1, 2) if integers else None

    def counts(rs):
        bins = np.array([b for b, _ in rs], dtype=np.int64)
        u = np.array([v for _, v in rs], dtype=np.float64)
        return cell_counts(bins, u, cells, slots)

    diff = counts(rows + [extra]) - counts(rows)
    assert np.abs(diff).sum() <= 1 and diff.min() >= 0
