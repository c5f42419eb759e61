import numpy as np
import pandas as pd
import pytest

import dpquilt as dq
from dpquilt.schema.column_types import spec_for_series
from dpquilt.schema import CategoricalColumn, NumericColumn, Schema


def test_from_domain_is_public_categorical_codes():
    s = Schema.from_domain({"age": 32, "sex": 2})
    assert s.complete and s.domain() == {"age": 32, "sex": 2}
    assert s["sex"].categories == (0, 1) and not s["sex"].other and not s["sex"].missing


def test_from_public_builds_the_right_kinds():
    s = Schema.from_public(
        {
            "sex": {"categories": ["F", "M"]},
            "age": {"kind": "integer", "lower": 0, "upper": 99, "bins": 10},
            "when": {"kind": "datetime", "lower": "2020-01-01", "upper": "2021-01-01"},
            "x": NumericColumn("x", edges=(0.0, 1.0, 5.0), missing=False),
        }
    )
    assert isinstance(s["sex"], CategoricalColumn) and s["sex"].size == 4  # F, M, other, missing
    assert s["age"].size == 11 and s["x"].size == 2
    assert s["when"].lower == pytest.approx(1577836800.0)
    assert Schema.from_public(s.to_dict()).domain() == s.domain()


def test_from_public_needs_a_kind():
    with pytest.raises(ValueError, match=r"column 'z': cannot tell its kind from \['missing'\]; add kind="):
        Schema.from_public({"z": {"missing": True}})


def test_spec_validation_messages():
    with pytest.raises(ValueError, match="column 'a': categories contain duplicates"):
        CategoricalColumn("a", ("x", "x"))
    with pytest.raises(ValueError, match=r"column 'b': lower bound 5 exceeds upper bound 1; swap them"):
        NumericColumn("b", lower=5, upper=1)
    with pytest.raises(ValueError, match="column 'c': edges must be at least two increasing numbers"):
        NumericColumn("c", edges=(1.0, 1.0))
    with pytest.raises(ValueError, match=r"schema lists column\(s\) \['a'\] more than once"):
        Schema((CategoricalColumn("a", ("x",)), CategoricalColumn("a", ("y",))))


def test_integer_bins_hold_integers():
    spec = NumericColumn("n", kind="integer", lower=0, upper=999, bins=32)
    edges = np.array(spec.bin_edges())
    assert np.all(edges == np.round(edges)) and edges[0] == 0 and edges[-1] == 1000
    assert spec.clip_range == (0.0, 999.0)


@pytest.mark.parametrize(
    "series,kind",
    [
        (pd.Series([1, 2, 3], name="i"), "integer"),
        (pd.Series([1.5, None], name="f"), "float"),
        (pd.Series(pd.to_datetime(["2020-01-01", None]), name="d"), "datetime"),
    ],
)
def test_numeric_kinds_from_dtype(series, kind):
    assert spec_for_series(series).kind == kind


def test_numpy_ints_and_bools_have_no_missing_code():
    assert not spec_for_series(pd.Series([1, 2], name="i")).missing
    assert not spec_for_series(pd.Series([True, False], name="b")).missing
    assert spec_for_series(pd.Series([True, None], dtype="boolean", name="b")).missing
    assert spec_for_series(pd.Series([1.0, 2.0], name="f")).missing  # floats can be NaN


def test_public_export():
    assert dq.Schema is Schema
