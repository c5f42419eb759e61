"""Sampling to partitioned Parquet: each partition from its own spawned generator, nothing lost or repeated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dpquilt as dq
from dpquilt.synthesizers.base import NotFittedError
from dpquilt.synthesizers.partitioned_sampling import partition_sizes


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.choice(["x", "y", "z"], 3000), "n": rng.integers(0, 50, 3000)})
    return dq.MarginalSynthesizer(epsilon=2.0, random_state=0, verbose=False).fit(df)


def test_each_partition_is_its_own_spawned_draw(fitted, tmp_path):
    files = fitted.sample_to_parquet(tmp_path / "out", 10_001, partitions=4, random_state=7)
    seeds = np.random.SeedSequence(7).spawn(4)
    for file, size, seed in zip(files, partition_sizes(10_001, 4), seeds):
        expected = fitted.sample(size, random_state=np.random.default_rng(seed))
        pd.testing.assert_frame_equal(pd.read_parquet(file), expected)
    assert sum(len(pd.read_parquet(f)) for f in files) == 10_001


def test_same_seed_same_files_and_other_seeds_other_rows(fitted, tmp_path):
    first = pd.concat(map(pd.read_parquet, fitted.sample_to_parquet(tmp_path / "a", 2000, 3, random_state=1)))
    again = pd.concat(map(pd.read_parquet, fitted.sample_to_parquet(tmp_path / "b", 2000, 3, random_state=1)))
    other = pd.concat(map(pd.read_parquet, fitted.sample_to_parquet(tmp_path / "c", 2000, 3, random_state=2)))
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_a_folder_with_parts_is_not_overwritten(fitted, tmp_path):
    fitted.sample_to_parquet(tmp_path, 100, 2, random_state=0)
    with pytest.raises(FileExistsError, match="already holds"):
        fitted.sample_to_parquet(tmp_path, 100, 2, random_state=0)


def test_partition_sizes_are_checked():
    assert partition_sizes(7, 7) == [1] * 7 and sum(partition_sizes(10**9, 13)) == 10**9
    with pytest.raises(ValueError, match="partitions"):
        partition_sizes(10, 0)
    with pytest.raises(ValueError, match="n_samples"):
        partition_sizes(-1, 2)


def test_sampling_before_fit_says_so(tmp_path):
    with pytest.raises(NotFittedError, match="sample_to_parquet"):
        dq.MarginalSynthesizer().sample_to_parquet(tmp_path, 10)
