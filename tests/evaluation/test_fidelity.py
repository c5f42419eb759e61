"""Wasserstein and correlation fidelity metrics."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance

from dpquilt.evaluation import correlation_difference, mean_wasserstein, wasserstein_distances


def test_wasserstein_is_scaled_by_the_range_and_clips_real_values():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.normal(size=500) * 3, "y": rng.uniform(0, 100, 500)})
    synth = pd.DataFrame({"x": rng.normal(size=400), "y": rng.uniform(0, 50, 400)})
    out = wasserstein_distances(real, synth, {"x": (-2.0, 2.0), "y": (0.0, 100.0)})
    assert out["x"] == pytest.approx(wasserstein_distance(real.x.clip(-2, 2), synth.x) / 4.0)
    assert out["y"] == pytest.approx(wasserstein_distance(real.y, synth.y) / 100.0)
    assert mean_wasserstein(real, synth, {"x": (-2.0, 2.0), "y": (0.0, 100.0)}) == pytest.approx(np.mean(list(out.values())))


def test_identical_tables_have_zero_distance_and_missing_values_are_left_out():
    real = pd.DataFrame({"x": [1.0, None, 3.0], "y": [2.0, 4.0, 7.0]})
    assert wasserstein_distances(real, real, {"x": (0.0, 4.0)}) == {"x": 0.0}
    assert correlation_difference(real, real, ["x", "y"]) == 0.0


def test_correlation_difference_averages_over_pairs():
    rng = np.random.default_rng(1)
    a = rng.normal(size=2000)
    real = pd.DataFrame({"a": a, "b": a + 0.1 * rng.normal(size=2000), "c": rng.normal(size=2000)})
    synth = pd.DataFrame({"a": a, "b": rng.normal(size=2000), "c": rng.normal(size=2000)})
    expected = np.abs(real.corr().to_numpy() - synth.corr().to_numpy())[np.triu_indices(3, 1)].mean()
    assert correlation_difference(real, synth, ["a", "b", "c"]) == pytest.approx(expected)
    assert correlation_difference(real, synth, ["a", "b", "c"]) > 0.3


def test_bad_arguments_are_named():
    real = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"column 'x': range \(1.0, 1.0\) is empty"):
        wasserstein_distances(real, real, {"x": (1.0, 1.0)})
    with pytest.raises(ValueError, match="at least two numeric columns"):
        correlation_difference(real, real, ["x"])
    with pytest.raises(ValueError, match="no non-missing values in the synthetic table"):
        wasserstein_distances(real, pd.DataFrame({"x": [None, None]}), {"x": (0.0, 3.0)})
