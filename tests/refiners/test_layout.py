"""Layout: codes to condition on, positions to learn."""

import numpy as np
import pandas as pd

from dpquilt.refiners.layout import Layout
from dpquilt.schema.codec import encode
from dpquilt.schema import CategoricalColumn, NumericColumn, Schema

SCHEMA = Schema(
    [
        CategoricalColumn("c", ("a", "b")),
        NumericColumn("x", lower=0.0, upper=10.0, bins=5),
        NumericColumn("k", kind="integer", lower=0, upper=3),
        NumericColumn("n", kind="integer", lower=0, upper=99, bins=10),
    ]
)


def test_targets_are_positions_with_nan_for_missing_and_clipped_values():
    df = pd.DataFrame({"c": ["a", "b", "a"], "x": [1.0, None, 25.0], "k": [0, 1, 2], "n": [15, 99, 0]})
    lay = Layout.of(SCHEMA)
    assert lay.learned == ("x", "n")
    targets = lay.targets_of(df, SCHEMA)
    assert targets.shape == (3, 2)
    assert targets[0, 0] == 0.5 and np.isnan(targets[1, 0]) and targets[2, 0] == np.nextafter(1.0, 0.0)
    assert targets[0, 1] == 0.55 and targets[2, 1] == 0.05  # integers sit at the centres of their slots


def test_code_matrix_follows_the_schema_order():
    df = pd.DataFrame({"c": ["b", "a"], "x": [3.0, 9.0], "k": [3, 0], "n": [50, 5]})
    lay = Layout.of(SCHEMA)
    data = encode(df, SCHEMA).data
    assert lay.codes_of(data).tolist() == [[1, 1, 3, 5], [0, 4, 0, 0]]
    assert {k: v.tolist() for k, v in lay.numeric_codes(data).items()} == {"x": [1, 4], "k": [3, 0], "n": [5, 0]}
