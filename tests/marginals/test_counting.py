"""Marginal counts: the compiled loops and the blocked ``bincount`` give the same histogram."""

from __future__ import annotations

import numpy as np
import pytest

from dpquilt.marginals import counting
from dpquilt.marginals.counting import count
from dpquilt.schema.dataset import Dataset


def reference_count(data: Dataset, cols: tuple[str, ...]) -> np.ndarray:
    shape = data.shape_of(cols)
    index = np.ravel_multi_index(tuple(np.asarray(data.columns[c], dtype=np.int64) for c in cols), shape)
    return np.bincount(index, minlength=int(np.prod(shape))).reshape(shape)


@pytest.mark.parametrize("sizes", [(3,), (300,), (2, 5), (70_000, 3), (4, 300, 7), (2, 3, 4, 5)])
def test_every_path_counts_like_ravel_multi_index(sizes, monkeypatch):
    rng = np.random.default_rng(len(sizes))
    names = [f"c{k}" for k in range(len(sizes))]
    data = Dataset({n: rng.integers(0, s, 5000) for n, s in zip(names, sizes)}, dict(zip(names, sizes)))
    assert {data.columns[n].dtype for n in names} <= {np.dtype("uint8"), np.dtype("uint16"), np.dtype("uint32")}
    expected = reference_count(data, tuple(names))
    compiled = count(data, names)
    monkeypatch.setattr(counting, "COMPILED_MAX_CELLS", 0)  # the blocked bincount path
    blocked = count(data, names)
    np.testing.assert_array_equal(compiled, expected)
    np.testing.assert_array_equal(blocked, expected)
    assert compiled.dtype == np.int64 and compiled.shape == tuple(sizes)


def test_an_empty_dataset_counts_zeros():
    data = Dataset({"a": np.zeros(0, int), "b": np.zeros(0, int)}, {"a": 2, "b": 3})
    np.testing.assert_array_equal(count(data, ("a", "b")), np.zeros((2, 3)))
