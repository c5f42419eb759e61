"""Feature map of the standalone diffusion model: a lossless round trip for in-range rows."""

import numpy as np
import pandas as pd
import pytest

from dpquilt.diffusion_model.feature_map import BinnedCDF, FeatureMap, bin_counts
from dpquilt.schema import CategoricalColumn, NumericColumn, Schema

SCHEMA = Schema(
    [
        CategoricalColumn("c", ("a", "b", "c")),
        NumericColumn("x", lower=-1.0, upper=3.0),
        NumericColumn("k", kind="integer", lower=0, upper=200),
    ]
)


def test_round_trip_keeps_values_codes_and_missing():
    df = pd.DataFrame({"c": ["a", "c", None, "b"], "x": [0.5, np.nan, 2.75, -1.0], "k": [0, 17, 200, 99]})
    fm = FeatureMap(SCHEMA)
    x, present = fm.features(df)
    assert x.shape == (4, fm.width) == (4, 5 + 2 + 2)
    assert np.all(np.abs(x) <= 1.0)
    assert not present[1, 5] and present[1].sum() == fm.width - 1  # the missing value's own feature is masked
    back = fm.rows(x, np.random.default_rng(0))
    assert back["c"].tolist() == ["a", "c", None, "b"]
    np.testing.assert_allclose(back["x"].to_numpy(), [0.5, np.nan, 2.75, -1.0], atol=1e-12)
    assert back["k"].tolist() == [0, 17, 200, 99]


def test_decoding_clips_and_rounds_noisy_features():
    fm = FeatureMap(SCHEMA)
    x = np.zeros((1, fm.width))
    x[0, :5] = [0.2, 0.9, -0.3, 0.1, 0.0]  # argmax: code 1 ("b")
    x[0, 5:7] = [1.7, -1.0]  # beyond the range: clipped to the upper bound
    x[0, 7:9] = [0.0101, -0.5]  # 100.0 + 1.01 -> 101
    out = fm.rows(x, np.random.default_rng(0))
    assert out.loc[0, "c"] == "b" and out.loc[0, "x"] == pytest.approx(3.0, abs=1e-12) and out.loc[0, "k"] == 101


def test_incomplete_schema_is_refused():
    with pytest.raises(ValueError, match=r"column\(s\) \['x'\] lack facts"):
        FeatureMap(Schema([NumericColumn("x")]))


def test_gaussianised_features_follow_the_cdf_and_invert():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"c": ["a"] * 4000, "x": rng.exponential(0.3, 4000).clip(-1, 3), "k": rng.integers(0, 201, 4000)})
    counts = bin_counts(df, SCHEMA)
    assert counts["x"].sum() == 4000 and counts["x"].size == 32
    cdfs = {n: BinnedCDF.from_counts(SCHEMA[n].bin_edges(), c) for n, c in counts.items()}
    fm = FeatureMap(SCHEMA, cdfs)
    x, _ = fm.features(df)
    z = x[:, 5]  # x's feature: about standard normal / Phi^-1(0.999), not squeezed at one end as linear scaling is
    assert abs(np.median(z)) < 0.05 and 0.25 < z.std() < 0.4
    back = fm.rows(x, rng)
    inner = np.abs(z) < 0.999  # the extreme 0.1% on each side are clipped to the CDF's TAIL by design
    assert inner.mean() > 0.99
    np.testing.assert_allclose(back["x"][inner], df["x"][inner], atol=1e-6)
    assert (back["k"] == df["k"]).mean() > 0.99
