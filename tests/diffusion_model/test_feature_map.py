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
    assert counts["x"].sum() == 4000 and counts["x"].size == 32 + 1 and counts["x"][-1] == 0  # 32 bins, missing
    cdfs = {n: BinnedCDF.from_histogram(SCHEMA[n], c) for n, c in counts.items()}
    assert cdfs["x"].missing_share == 0.0
    fm = FeatureMap(SCHEMA, cdfs)
    x, _ = fm.features(df)
    z = x[:, 5]  # x's feature: about standard normal / Phi^-1(0.999), not squeezed at one end as linear scaling is
    assert abs(np.median(z)) < 0.05 and 0.25 < z.std() < 0.4
    back = fm.rows(x, rng)
    inner = np.abs(z) < 0.999  # the extreme 0.1% on each side are clipped to the CDF's TAIL by design
    assert inner.mean() > 0.99
    np.testing.assert_allclose(back["x"][inner], df["x"][inner], atol=1e-6)
    assert (back["k"] == df["k"]).mean() > 0.99


def test_every_row_is_counted_once_per_column_bins_points_then_missing():
    spec = NumericColumn("a", lower=0.0, upper=10.0, bins=4, points=(0.0,), missing=True)
    df = pd.DataFrame({"a": [0.0, 0.0, 1.0, 9.5, np.nan, 12.0]})  # 12 is clipped into the last bin
    counts = bin_counts(df, Schema([spec]))["a"]
    assert counts.tolist() == [1, 0, 0, 2, 2, 1]  # bins 0-2.5, ..., 7.5-10; the point 0; missing
    cdf = BinnedCDF.from_histogram(spec, counts)
    assert cdf.missing_share == pytest.approx(1 / 6)
    assert cdf.cdf[-1] == pytest.approx(1.0) and len(cdf.edges) == 5  # the CDF runs over the bins only
    with pytest.raises(ValueError, match="'a': a histogram of 5 cells, its codes are 6"):
        BinnedCDF.from_histogram(spec, counts[:-1])


def test_matching_gives_the_missing_flag_to_the_released_share_of_samples():
    cdf = BinnedCDF.from_counts((-1.0, 1.0, 3.0), np.array([50.0, 50.0]))
    rng = np.random.default_rng(1)
    x = np.zeros((1000, 2))
    x[:, 0] = rng.normal(size=1000)
    x[:, 1] = rng.normal(0.5, 1.0, size=1000)  # a drifting model: flags above 0 in most rows
    for share, expected in ((0.0, 0), (0.123, 123), (None, int((x[:, 1] > 0).sum()))):
        fm = FeatureMap(Schema([SCHEMA["x"]]), {"x": BinnedCDF(cdf.edges, cdf.cdf, share)})
        out = fm.rows(fm.matched_to_cdfs(x), np.random.default_rng(0))["x"]
        assert int(out.isna().sum()) == expected
        if share:  # the rows with the largest flags
            assert set(np.flatnonzero(out.isna())) == set(np.argsort(-x[:, 1])[:expected])


def test_removing_any_one_row_moves_each_columns_histogram_by_one_count():
    """The quantile transform's sensitivity: one row is in exactly one cell of each numeric column
    (a bin, a point mass or missing), so its histogram moves by 1 in L1 and L2."""
    spec = NumericColumn("a", lower=0.0, upper=10.0, bins=4, points=(0.0,), missing=True)
    schema = Schema([spec, SCHEMA["k"]])
    df = pd.DataFrame({"a": [0.0, 0.0, 1.0, 9.5, np.nan, 12.0, -3.0], "k": [0, 5, 200, 201, 17, None, 3]})
    full = bin_counts(df, schema)
    for i in range(len(df)):
        less = bin_counts(df.drop(index=i), schema)
        for name in full:
            change = full[name] - less[name]
            assert change.min() == 0 and change.sum() == 1, (name, i, change)
