"""The evaluation binning: chosen from the real table alone, so binning losses show."""

import numpy as np
import pandas as pd
import pytest

from dpquilt.evaluation.binning import ColumnBins, EvaluationBinning, binned_tv, independent_columns


def real_table(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, n)
    return pd.DataFrame({
        "a": a,
        "b": a * 10.0 + rng.normal(0, 1, n),
        "amount": np.where(rng.random(n) < 0.7, 0.0, rng.lognormal(5, 1, n)),
        "c": np.where(a > 2, "hi", "lo"),
    })


def test_a_table_scores_zero_against_itself_and_independent_columns_lose_the_joint_structure():
    real = real_table()
    assert binned_tv(real, real, k=2) == 0.0
    baseline = independent_columns(real, len(real), np.random.default_rng(1))
    assert binned_tv(real, baseline, k=1) < 0.03 and binned_tv(real, baseline, k=2) > 0.2


def test_a_point_mass_at_the_minimum_keeps_a_bin_of_its_own():
    real = real_table()
    bins = EvaluationBinning.of(real)["amount"]
    codes = bins.codes(real["amount"])
    assert set(codes[real["amount"].to_numpy() == 0.0]) == {0}
    assert 0 not in set(codes[real["amount"].to_numpy() > 0.0])
    near_zero = real.assign(amount=real["amount"].where(real["amount"] > 0, 3e-5))
    assert binned_tv(real[["amount"]], near_zero[["amount"]], k=1) > 0.6


def test_few_valued_numbers_and_labels_are_compared_by_value():
    binning = EvaluationBinning.of(pd.DataFrame({"n": [36, 60] * 50, "c": ["x", "y"] * 50}))
    assert binning["n"].values == (36.0, 60.0) and binning["c"].values == ("x", "y")
    near = pd.DataFrame({"n": [35, 61] * 50, "c": ["x", "y"] * 50})
    assert binned_tv(pd.DataFrame({"n": [36, 60] * 50, "c": ["x", "y"] * 50}), near, k=1) == pytest.approx(0.5)


def test_marginals_beyond_the_cap_are_a_seeded_sample():
    real = pd.DataFrame({f"c{i}": np.arange(50) % (i + 2) for i in range(12)})
    synth = real.assign(c0=np.random.default_rng(0).permutation(real["c0"].to_numpy()))  # c0 loses its ties
    a, b = binned_tv(real, synth, k=3, max_marginals=40, seed=3), binned_tv(real, synth, k=3, max_marginals=40, seed=3)
    assert a == b > 0


def test_bins_need_values_or_edges():
    with pytest.raises(ValueError, match="column 'x': give exact values or quantile edges"):
        ColumnBins("x")
