"""Feature map of the standalone diffusion model: a lossless round trip for in-range rows."""

import numpy as np
import pandas as pd
import pytest

from dpquilt.diffusion_backend.features import FeatureMap
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
