"""Kinds of text columns, learned with DP: the value classes, the decision, and the cost."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.schema.kinds import kind_from_noisy_classes, learn_kind, value_classes
from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.conversions import rho_of_gaussian
from dpquilt.privacy.noise import SeededNoise
from dpquilt.schema import CategoricalColumn, NumericColumn, UntypedColumn


def test_each_present_value_falls_in_one_class():
    values = pd.Series([" 12 ", "1e3", "-4", "2.5", "inf", "2020-01-01T10:00:00Z", "2019-12", "March", "", None])
    # integers: 12, 1e3, -4; float: 2.5; dates: two ISO 8601 forms; text: "inf", "March" and ""
    assert value_classes(values.replace("", np.nan)).tolist() == [3, 1, 2, 2]


@given(st.lists(st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=False).map(str),
                          st.text(max_size=6), st.none()), max_size=30),
       st.one_of(st.integers(0, 99).map(str), st.text(max_size=6)))
@settings(max_examples=150, deadline=None)
def test_one_row_moves_one_class_by_one(values, extra):
    """The class histogram's sensitivity: adding one row changes exactly one class by one (L1 = L2 = 1)."""
    a = value_classes(pd.Series(values, dtype=object))
    b = value_classes(pd.Series(values + [extra], dtype=object))
    diff = b - a
    assert np.abs(diff).sum() <= 1 and diff.min() >= 0


@pytest.mark.parametrize(
    "noisy,kind",
    [
        ([5000, 0, 0, 300], "integer"),  # 6% stray words: still numeric, the words become missing
        ([5000, 80, 0, 0], "float"),
        ([20, 0, 4000, 10], "datetime"),
        ([2600, 0, 0, 2400], "categorical"),
        ([10, 5, 0, 3], None),
    ],
)
def test_the_kind_is_a_function_of_the_noisy_shares(noisy, kind):
    assert kind_from_noisy_classes(np.array(noisy), sigma=10.0) == kind


def test_a_learned_kind_costs_one_gaussian_release_and_names_its_dtype():
    acc = Accountant(1.0, 1e-9, secure=False)
    series = pd.Series(["2021-03-01", "2021-04-01", "2021-05-01"] * 400)
    spec = learn_kind(series, UntypedColumn("month"), 10.0, acc, SeededNoise(np.random.default_rng(0)))
    assert isinstance(spec, NumericColumn) and spec.kind == "datetime" and spec.dtype == "datetime64[ns]"
    (entry,) = acc.ledger
    assert entry.rho == pytest.approx(rho_of_gaussian(10.0)) and entry.noise_scale == 10.0


def test_too_few_values_are_read_as_text_and_the_log_says_so(caplog):
    acc = Accountant(1.0, 1e-9, secure=False)
    spec = learn_kind(pd.Series(["1", "2", "3"]), UntypedColumn("n"), 10.0, acc, SeededNoise(np.random.default_rng(0)))
    assert isinstance(spec, CategoricalColumn) and spec.categories is None
    assert "too few values for the noise to tell its kind" in caplog.text
