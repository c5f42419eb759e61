"""Packed codes (several small columns to a byte) count exactly as the unpacked codes do."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dpquilt.marginals.compression import Compression
from dpquilt.marginals.counting import count
from dpquilt.marginals.packed_codes import PACK_CELLS, PackedCodes, PackLayout
from dpquilt.schema.dataset import Dataset

#: the column sizes of benchmarks/dask_scale.py's table after schema learning
BENCH_SIZES = [9, 13, 5, 4, 65, 54, 9, 11, 36, 80, 19, 19, 19, 19, 12, 9, 2, 2, 2, 2]


def _data(sizes: list[int], n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    domain = {f"c{k}": s for k, s in enumerate(sizes)}
    return Dataset({c: rng.integers(0, s, n) for c, s in domain.items()}, domain)


def test_layout_places_every_column_once_within_a_byte_unless_alone():
    domain = {f"c{k}": s for k, s in enumerate(BENCH_SIZES + [300, 70_000])}
    layout = PackLayout.of(domain)
    placed = [c for pack in layout.packs for c in pack]
    assert sorted(placed) == sorted(domain)
    for k, pack in enumerate(layout.packs):
        assert layout.cells(k) <= PACK_CELLS or len(pack) == 1
    assert len(layout.packs) == 12  # the 20 benchmark columns in 10 bytes, and the two large ones alone
    assert PackLayout.of(domain) == layout  # the domain alone decides


def test_packing_halves_the_benchmark_codes_and_unpacks_them():
    data = _data(BENCH_SIZES, 5_000, seed=0)
    packed = PackedCodes.of(data)
    assert packed.nbytes == 10 * data.n_rows
    assert sum(c.nbytes for c in data.columns.values()) == 20 * data.n_rows
    for c in data.names:
        np.testing.assert_array_equal(packed.column(c), data.columns[c])


@pytest.mark.parametrize("sizes", [BENCH_SIZES, [2, 300, 3, 5_000, 7], [256, 1, 4, 64]])
def test_counts_equal_counts_of_the_unpacked_codes(sizes):
    data = _data(sizes, 3_000, seed=len(sizes))
    packed = PackedCodes.of(data)
    names = list(data.names)
    rng = np.random.default_rng(1)
    cliques = [(c,) for c in names] + list(itertools.combinations(names[:5], 2))
    cliques += [tuple(rng.choice(names, k, replace=False)) for k in (3, 3, 4)]
    for clique in cliques:
        np.testing.assert_array_equal(packed.count(clique), count(data, clique), err_msg=str(clique))


def test_compressions_fold_into_the_lookups():
    data = _data([9, 5, 2, 19], 4_000, seed=3)
    first = Compression({"c0": np.array([0, 1, 2, 2, 3, 3, 3, 4, 4]), "c1": np.array([0, 1, 2, 3, 3]),
                         "c2": np.array([0, 1]), "c3": np.arange(19) // 2},
                        {c: np.array([], dtype=np.int64) for c in ("c0", "c1", "c2", "c3")})
    second = Compression({"c0": np.array([0, 0, 1, 2, 2]), "c1": np.array([0, 1, 1, 2]), "c2": np.array([0, 1]),
                          "c3": np.arange(10) % 3}, {c: np.array([], dtype=np.int64) for c in ("c0", "c1", "c2", "c3")})
    expected = second.apply(first.apply(data))
    packed = PackedCodes.of(data)
    lookups, domain = packed.lookups((first, second))
    assert domain == dict(expected.domain)
    for clique in [("c0",), ("c3", "c1"), ("c0", "c2", "c3"), ("c0", "c1", "c2", "c3")]:
        np.testing.assert_array_equal(packed.count(clique, lookups, domain), count(expected, clique))


def test_unknown_column_is_named():
    packed = PackedCodes.of(_data([3, 4], 10, seed=0))
    with pytest.raises(KeyError, match="'zz'"):
        packed.count(("c0", "zz"))


def test_count_many_sums_cliques_within_a_pack_from_its_histogram():
    data = _data([9, 5, 2, 19, 80, 3], 4_000, seed=5)
    merge = Compression({"c0": np.array([0, 1, 2, 2, 3, 3, 3, 4, 4]), "c1": np.arange(5), "c2": np.arange(2),
                         "c3": np.arange(19) // 3, "c4": np.arange(80) // 7, "c5": np.array([0, 1, 1])},
                        {c: np.array([], dtype=np.int64) for c in data.names})
    packed = PackedCodes.of(data)
    together = [p for p in packed.layout.packs if len(p) > 1]
    assert together, "the test needs columns that share a pack"
    cliques = [(c,) for c in data.names] + [p[:2] for p in together] + [("c0", "c4", "c3"), ("c5", "c1")]
    for compressions, expected in (((), data), ((merge,), merge.apply(data))):
        for clique, counted in zip(cliques, packed.count_many(cliques, compressions)):
            assert counted.dtype == np.int64
            np.testing.assert_array_equal(counted, count(expected, clique), err_msg=str(clique))
