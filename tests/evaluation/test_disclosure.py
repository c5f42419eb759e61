"""DCR computed in numpy gives SDMetrics' numbers."""

import numpy as np
import pandas as pd
import pytest

from dpquilt.evaluation.columns import evaluation_schema
from dpquilt.evaluation.disclosure import distance_to_closest_record, nearest_gower_distance
from dpquilt.schema import NumericColumn


def _metadata(schema):
    """SDMetrics' metadata for the evaluation schema (what the reference implementation needs)."""
    def sdtype(spec):
        if isinstance(spec, NumericColumn):
            return "datetime" if spec.kind == "datetime" else "numerical"
        return "categorical"

    return {"tables": {"table": {"columns": {name: {"sdtype": sdtype(schema[name])} for name in schema.names}}}}


def _table(rows, seed):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "x": rng.normal(50, 10, rows).round(1),
        "n": rng.integers(0, 4, rows).astype(float),
        "c": rng.choice(["a", "b", "c"], rows).astype(object),
        "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 400, rows), unit="D"),
        "flat": np.full(rows, 3.0),
    })
    df.loc[rng.random(rows) < 0.1, "x"] = np.nan
    df.loc[rng.random(rows) < 0.1, "c"] = None
    df.loc[rng.random(rows) < 0.05, "when"] = pd.NaT
    df.loc[rng.random(rows) < 0.05, "flat"] = 4.0
    return df


def test_nearest_distances_equal_sdmetrics():
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

    data, reference = _table(300, 1), _table(500, 2)
    schema = evaluation_schema(pd.concat([data, reference]))
    expected = calculate_dcr(data, reference, _metadata(schema)["tables"]["table"]).to_numpy()
    np.testing.assert_allclose(nearest_gower_distance(data, reference, schema), expected, atol=1e-12)


def test_dcr_share_equals_sdmetrics_breakdown():
    from sdmetrics.single_table import DCROverfittingProtection

    train, holdout, synth = _table(400, 3), _table(400, 4), _table(300, 5)
    synth.iloc[:100] = train.iloc[:100].to_numpy()  # a third copied: closer to training
    schema = evaluation_schema(pd.concat([train, holdout]))
    ours = distance_to_closest_record(train, synth, holdout, schema, max_rows=300)
    theirs = DCROverfittingProtection.compute_breakdown(train, synth, holdout, _metadata(schema), "table")
    assert ours == pytest.approx(theirs["synthetic_data_percentages"]["closer_to_training"])
    assert ours > 0.6
