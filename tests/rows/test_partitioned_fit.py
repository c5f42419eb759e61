"""A table split into Dask partitions fits to the same release as the same rows in one DataFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dpquilt as dq

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")


@pytest.fixture(autouse=True)
def object_strings_stay_objects():
    """Dask turns object columns into ``string[pyarrow]`` by default; the frames compared here keep one dtype."""
    with dask.config.set({"dataframe.convert-string": False}):
        yield


def mixed_table(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Raw columns as users hand them over: labels, integers, zero-inflated amounts, skewed floats, dates, gaps."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    amount = np.where(rng.random(n) < 0.6, 0.0, np.round(rng.lognormal(6, 1.2, n), 2))
    city = rng.choice(["oslo", "rome", "lima", "kyiv", "pune"], n, p=[0.4, 0.3, 0.15, 0.1, 0.05]).astype(object)
    city[rng.random(n) < 0.05] = None
    score = rng.gamma(2.0, 3.0, n)
    score[rng.random(n) < 0.03] = np.nan
    day = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    return pd.DataFrame({"age": age, "amount": amount, "city": city, "score": score, "day": day,
                         "flag": rng.random(n) < 0.3 + 0.004 * (age - 18)})


def fitted(data, method: str = "mst", **params) -> dq.MarginalSynthesizer:
    return dq.MarginalSynthesizer(epsilon=2.0, method=method, random_state=0, verbose=False, **params).fit(data)


def assert_same_release(a: dq.MarginalSynthesizer, b: dq.MarginalSynthesizer) -> None:
    assert a.accountant_.ledger == b.accountant_.ledger
    assert a.schema_ == b.schema_
    assert set(a.model_.potentials) == set(b.model_.potentials)
    for clique, table in a.model_.potentials.items():
        np.testing.assert_array_equal(table, b.model_.potentials[clique])
    pd.testing.assert_frame_equal(a.sample(3000, random_state=5), b.sample(3000, random_state=5))


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_mst_on_partitions_equals_mst_in_memory(partitions):
    # sorted, so that the partitions hold different mixes of values (and list them in other orders)
    df = mixed_table().sort_values(["flag", "age"], ignore_index=True)
    in_memory = fitted(df)
    split = fitted(dd.from_pandas(df, npartitions=partitions, sort=False))
    assert_same_release(in_memory, split)


def test_aim_on_partitions_equals_aim_in_memory():
    df = mixed_table(2500, seed=1)
    in_memory = fitted(df, method="aim", rounds=6)
    split = fitted(dd.from_pandas(df, npartitions=4, sort=False), method="aim", rounds=6)
    assert_same_release(in_memory, split)


def test_parquet_files_fit_like_the_frame(tmp_path):
    df = mixed_table(3000, seed=2)
    for k, part in enumerate(np.array_split(np.arange(len(df)), 5)):
        df.iloc[part].to_parquet(tmp_path / f"part-{k}.parquet", index=False)
    assert_same_release(fitted(df), fitted(str(tmp_path / "*.parquet")))


def test_a_file_with_other_columns_is_named_and_nothing_is_fitted(tmp_path):
    df = mixed_table(1000)
    df.iloc[:500].to_parquet(tmp_path / "a.parquet", index=False)
    df.iloc[500:].astype({"age": "float64"}).to_parquet(tmp_path / "b.parquet", index=False)
    syn = dq.MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False)
    with pytest.raises(ValueError, match=r"b\.parquet.*age"):
        syn.fit(str(tmp_path / "*.parquet"))
    assert not hasattr(syn, "model_")


def test_a_refiner_that_needs_rows_in_memory_is_refused_for_partitions():
    ddf = dd.from_pandas(mixed_table(500), npartitions=2)
    with pytest.raises(ValueError, match="refiner='histogram'"):
        dq.MarginalSynthesizer(epsilon=1.0, refiner="ddpm", random_state=0, verbose=False).fit(ddf)


def test_a_local_cluster_of_worker_processes_gives_the_same_release(tmp_path):
    distributed = pytest.importorskip("distributed")
    df = mixed_table(2000, seed=3).sort_values("city", ignore_index=True)
    in_memory = fitted(df)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        split = fitted(dd.from_pandas(df, npartitions=6, sort=False))
        on_workers = split.sample_to_parquet(tmp_path / "workers", 5000, partitions=3, random_state=4)
    assert_same_release(in_memory, split)
    on_threads = in_memory.sample_to_parquet(tmp_path / "threads", 5000, partitions=3, random_state=4)
    for a, b in zip(on_workers, on_threads):
        pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))


def test_the_diffusion_synthesizer_says_it_needs_rows_in_memory():
    ddf = dd.from_pandas(mixed_table(200), npartitions=2)
    with pytest.raises(TypeError, match="trains on rows in memory.*MarginalSynthesizer"):
        dq.DiffusionSynthesizer(epsilon=1.0, random_state=0, verbose=False).fit(ddf)
