"""Bad input gets a one-line error naming the column or value and the fix; nothing is lost."""

import numpy as np
import pandas as pd
import pytest

import dpquilt as dq
from dpquilt.privacy.accountant import Accountant
from tests.conftest import FAST


def synth(**kw):
    kw.setdefault("random_state", 0)
    kw.setdefault("verbose", False)
    kw.setdefault("estimation", FAST)
    return dq.MarginalSynthesizer(**kw)


def one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_empty_frame():
    with pytest.raises(ValueError, match="the DataFrame has no columns"):
        synth().fit(pd.DataFrame())


def test_a_table_without_rows_fits_like_its_one_row_neighbour():
    """Whether a fit succeeds must not tell 0 rows from 1: both fit, with the same ledger."""
    schema = {"a": {"lower": 0, "upper": 10}}
    fits = [synth(schema=schema).fit(pd.DataFrame({"a": pd.Series(v, dtype=float)})) for v in ([], [3.0])]
    assert [e.what for e in fits[0].privacy_report().expenditures] == [e.what for e in fits[1].privacy_report().expenditures]
    assert all(list(f.sample(5, random_state=0).columns) == ["a"] for f in fits)

def test_not_a_frame():
    with pytest.raises(TypeError, match=r"expected a pandas DataFrame, .*got list; wrap your data in pd.DataFrame"):
        synth().fit([1, 2, 3])


def test_all_missing_column_whose_range_cannot_be_learned():
    """All missing or one value: the same DP-decided error, naming the column and the fix."""
    a = np.random.default_rng(0).integers(20, 70, 3000).astype(float)
    for b in ([np.nan] * 3000, [np.nan] * 2999 + [5.0]):
        with pytest.raises(ValueError, match=r"cannot learn the range of column 'b'.*public bounds") as e:
            synth().fit(pd.DataFrame({"a": a, "b": b}))
        one_line(e)


def test_all_missing_column_with_public_schema_is_fine():
    df = pd.DataFrame({"a": ["x", "y"] * 20, "b": [np.nan] * 40})
    schema = {"a": {"categories": ["x", "y"]}, "b": {"kind": "float", "lower": 0, "upper": 1}}
    out = synth(schema=schema).fit(df).sample(5)
    assert list(out.columns) == ["a", "b"]


def test_mixed_types_column_is_categorical_like_any_object_column():
    df = pd.DataFrame({"a": ["x", 1, "y", 2.5] * 500})
    syn = synth().fit(df)
    assert syn.schema_["a"].categories == (2.5, 1, "x", "y")  # learned with DP, sorted by type name then value
    assert set(syn.sample(200, random_state=0)["a"].dropna()) <= {1, 2.5, "x", "y", "__other__"}


def test_unknown_dtype():
    df = pd.DataFrame({"z": np.array([1 + 2j, 3 + 4j])})
    with pytest.raises(ValueError, match=r"column 'z' has dtype complex128 which dpquilt cannot encode"):
        synth().fit(df)
    df = pd.DataFrame({"t": pd.to_timedelta([1, 2], unit="s")})
    with pytest.raises(ValueError, match=r"column 't' has dtype timedelta64\[\w+\] which dpquilt cannot encode"):
        synth().fit(df)


@pytest.mark.parametrize("eps", [0, -1.0])
def test_bad_epsilon(eps):
    with pytest.raises(ValueError, match=f"epsilon must be > 0, got {eps}"):
        synth(epsilon=eps).fit(pd.DataFrame({"a": [1, 2]}))


@pytest.mark.parametrize("delta", [0, 1, 2.0])
def test_bad_delta(delta):
    with pytest.raises(ValueError, match=r"delta must lie in \(0, 1\)"):
        synth(delta=delta).fit(pd.DataFrame({"a": [1, 2]}))


def test_public_bound_violated_is_clipped_and_reported():
    df = pd.DataFrame({"x": np.r_[np.linspace(0, 10, 99), 1e6], "c": ["a", "b"] * 50})
    syn = synth(schema={"x": {"lower": 0, "upper": 10, "bins": 5}, "c": {"categories": ["a", "b"]}}).fit(df)
    assert not any("clipped" in n for n in syn.privacy_report().notes)  # curator notes never enter the report
    notes = syn.curator_notes_
    assert notes == (
        "column 'x': 1 of 100 values (1.0%) lay outside the schema's bounds [0, 10] and were clipped to them; "
        "if that is too many, give public bounds for it (schema={'x': {'lower': ..., 'upper': ...}})",
    )
    out = syn.sample(500, random_state=0)
    assert out["x"].dropna().between(0, 10).all()


def test_unlisted_category_goes_to_other():
    df = pd.DataFrame({"c": ["a", "b", "zzz"] * 30})
    syn = synth(schema={"c": {"categories": ["a", "b"]}}).fit(df)
    assert "column 'c': values not in the schema's category list were mapped to 'other'" in syn.curator_notes_
    assert not any("other" in n for n in syn.privacy_report().notes)
    assert set(syn.sample(2000, random_state=1)["c"].dropna()) <= {"a", "b", "__other__"}


def test_a_row_the_public_schema_cannot_encode_is_left_out_and_noted_for_the_curator():
    df = pd.DataFrame({"a": [0, 1, 7] * 100})
    syn = synth(schema=dq.Schema.from_domain({"a": 2})).fit(df)
    assert "100 of 300 rows held a value the schema has no code for" in syn.curator_notes_[0]
    assert set(syn.sample(500, random_state=0)["a"]) <= {0, 1}


def test_missing_without_missing_code_leaves_the_row_out():
    df = pd.DataFrame({"a": [0.0, np.nan, 1.0] * 100})
    syn = synth(schema={"a": {"lower": 0, "upper": 1, "missing": False}}).fit(df)
    assert "100 of 300 rows" in syn.curator_notes_[0]
    assert syn.sample(500, random_state=0)["a"].notna().all()


def test_sample_before_fit():
    with pytest.raises(dq.NotFittedError, match=r"not fitted yet; call fit\(df\) before sample\(\)"):
        synth().sample(3)
    with pytest.raises(dq.NotFittedError, match=r"before privacy_report\(\)"):
        synth().privacy_report()


@pytest.mark.parametrize("share", [1.0, 1.5, -0.1])
def test_share_leaving_nothing_for_measurement(share):
    with pytest.raises(ValueError, match=rf"schema_share={share} leaves nothing for measuring marginals; pass a share in \[0, 1\)"):
        synth(schema_share=share).fit(pd.DataFrame({"a": [1, 2]}))


def test_zero_schema_share_with_facts_to_learn():
    with pytest.raises(ValueError, match=r"schema_share=0 leaves no budget to learn the facts of column\(s\) \['a'\]"):
        synth(schema_share=0.0).fit(pd.DataFrame({"a": [1, 2]}))


def test_unknown_method():
    with pytest.raises(ValueError, match=r"method='magic' is not available; choose one of \['mst', 'aim'\]"):
        synth(method="magic").fit(pd.DataFrame({"a": [1, 2]}))


def test_schema_column_not_in_data():
    with pytest.raises(ValueError, match=r"the schema describes column\(s\) \['b'\] that the data does not have"):
        synth(schema={"b": {"categories": [1]}}).fit(pd.DataFrame({"a": [1, 2]}))


def test_budget_overspend_is_refused_before_noise_is_drawn():
    acc = Accountant(1.0, 1e-9)
    from dpquilt.privacy.accountant import BudgetExceededError
    from dpquilt.privacy.mechanisms import gaussian_counts
    from dpquilt.privacy.noise import SeededNoise

    with pytest.raises(BudgetExceededError):
        gaussian_counts(np.array([1, 2]), 0.001, "too much", acc, SeededNoise(np.random.default_rng(0)))
    assert acc.ledger == ()
