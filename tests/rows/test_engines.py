"""Row engines: tallies add up exactly, in an order no split can change, and bad partitions are named."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from dpquilt.rows import InMemoryRows, add_tallies
from dpquilt.schema.point_masses import value_tally

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")
from dpquilt.rows.dask_rows import DaskRows, PartitionSchemaError  # noqa: E402


def test_value_counts_come_back_in_one_order_however_the_rows_are_split():
    """The first partition is mostly 'b', the second mostly 'a': per-part value_counts list them
    in opposite orders, and the mechanisms draw noise key by key."""
    frame = pd.DataFrame({"c": ["b"] * 30 + ["a"] * 5 + ["a"] * 40 + ["b"] * 2 + ["z"]})
    job = functools.partial(value_tally, None)
    whole = InMemoryRows(frame).tally(lambda part: job(part["c"]), ["c"])
    with dask.config.set({"dataframe.convert-string": False}):
        split = DaskRows(dd.from_pandas(frame, npartitions=2, sort=False)).tally(lambda part: job(part["c"]), ["c"])
    assert list(whole[0].items()) == list(split[0].items()) == [("a", 45), ("b", 32), ("z", 1)]
    assert whole[1].tolist() == split[1].tolist() == [0]


def test_tallies_of_different_layouts_are_refused():
    assert add_tallies(np.array([1, 2]), np.array([3, 4])).tolist() == [4, 6]
    with pytest.raises(TypeError, match="shapes"):
        add_tallies(np.array([1, 2]), np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="same layout"):
        add_tallies((np.array([1]),), (np.array([1]), np.array([2])))


def test_a_partition_with_other_types_fails_the_tally_and_is_named():
    good = pd.DataFrame({"a": [1, 2]})
    bad = pd.DataFrame({"a": ["x", "y"]})
    frame = dd.from_delayed([dask.delayed(lambda: good)(), dask.delayed(lambda: bad)()], meta=good.iloc[:0], verify_meta=False)
    with pytest.raises(PartitionSchemaError, match=r"partition 1 .*'a'"):
        DaskRows(frame).tally(lambda part: np.array([len(part)]), ["a"])


def test_the_reduction_tree_adds_every_partition_once():
    frame = pd.DataFrame({"a": np.arange(1000) % 7})
    rows = DaskRows(dd.from_pandas(frame, npartitions=37), split_every=3)
    got = rows.tally(lambda part: np.bincount(part["a"], minlength=7), ["a"])
    assert got.tolist() == np.bincount(frame["a"], minlength=7).tolist()


def test_a_table_too_large_for_memory_gets_a_local_cluster_that_is_closed_after(tmp_path):
    pytest.importorskip("distributed")
    from dpquilt.rows.dask_rows import dask_client

    file = tmp_path / "t.parquet"
    pd.DataFrame({"a": np.arange(100)}).to_parquet(file)
    with dask_client(None, [str(file)], memory_bytes=1000) as client:  # "1 kB of memory": does not fit
        assert client is not None and len(client.scheduler_info()["workers"]) >= 1
        cluster = client.cluster
    assert client.status == "closed" and cluster.status.name == "closed"
    with dask_client(None, [str(file)], memory_bytes=2**40) as client:
        assert client is None


def test_value_counts_merge_like_counting_the_concatenation():
    from dpquilt.rows import ValueCounts

    rng = np.random.default_rng(0)
    parts = [np.round(rng.exponential(10, size), 1) for size in (0, 500, 1, 800)]
    merged = ValueCounts.of(parts[0])
    for part in parts[1:]:
        merged = add_tallies(merged, ValueCounts.of(part))
    values, counts = np.unique(np.concatenate(parts), return_counts=True)
    assert merged.values.tolist() == values.tolist() and merged.counts.tolist() == counts.tolist()
    assert list(merged.as_dict()) == sorted(merged.as_dict())
    with pytest.raises(TypeError, match="value counts"):
        add_tallies(merged, np.array([1]))


def test_parquet_row_groups_are_split_into_partitions_and_only_asked_columns_are_read(tmp_path, monkeypatch):
    from dpquilt.rows import dask_rows

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.integers(0, 5, 1000), "b": rng.choice(["x", "y"], 1000), "c": rng.random(1000)})
    df.to_parquet(tmp_path / "one.parquet", index=False, row_group_size=100)  # 10 row groups
    df.iloc[:30].to_parquet(tmp_path / "two.parquet", index=False)
    rows = dask_rows.read_parquet_rows(tmp_path, part_rows=250)
    assert rows.n_partitions == 5 + 1  # runs of two whole groups, then the small file

    read_columns = []
    real_read = dask_rows.read_parquet_piece

    def spying_read(piece, columns=None, arrow_strings=True):
        read_columns.append(None if columns is None else list(columns))
        return real_read(piece, columns, arrow_strings)

    monkeypatch.setattr(dask_rows, "read_parquet_piece", spying_read)
    rows = dask_rows.read_parquet_rows(tmp_path, part_rows=250)
    with dask.config.set(scheduler="sync"):
        counts = rows.tally(lambda part: np.bincount(part["a"], minlength=5), ["a"])
    expected = np.bincount(np.concatenate([df["a"], df["a"][:30]]), minlength=5)
    np.testing.assert_array_equal(counts, expected)
    assert read_columns and all(cols == ["a"] for cols in read_columns)


def test_part_rows_must_be_positive(tmp_path):
    from dpquilt.rows.dask_rows import read_parquet_rows

    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="part_rows"):
        read_parquet_rows(tmp_path, part_rows=0)


#: Parts read by :func:`read_watched_part`, and the reads (workers in this process share them).
WATCHED_PARTS: list[pd.DataFrame] = []
READS: list[int] = []


def read_watched_part(k: int) -> pd.DataFrame:
    READS.append(k)
    return WATCHED_PARTS[k]


def test_codes_kept_on_the_workers_are_counted_without_reading_the_rows_again():
    distributed = pytest.importorskip("distributed")
    from dpquilt.marginals.code_counts import PartitionCounts
    from dpquilt.marginals.compression import Compression
    from dpquilt.marginals.counting import count
    from dpquilt.schema import Schema
    from dpquilt.schema.codec import encode

    rng = np.random.default_rng(4)
    parts = [pd.DataFrame({"a": rng.choice(["x", "y", "z"], 300), "b": rng.integers(0, 4, 300)}) for _ in range(3)]
    WATCHED_PARTS[:] = parts
    READS.clear()
    schema = Schema.from_public({"a": {"categories": ["x", "y", "z"], "other": False, "missing": False},
                                 "b": {"categories": [0, 1, 2, 3], "other": False, "missing": False}})
    frame = dd.from_map(read_watched_part, [0, 1, 2], meta=parts[0].iloc[:0], enforce_metadata=False)
    whole = encode(pd.concat(parts, ignore_index=True), schema).data
    merge = Compression({"a": np.array([0, 1, 1]), "b": np.arange(4)}, {"a": np.array([1, 2]), "b": np.zeros(0, int)})
    # worker threads in this process, so that the reads can be watched
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        counts = PartitionCounts(DaskRows(frame), schema)
        first = counts.count_many([("a",), ("a", "b")])
        again = counts.count_many([("b",)])
        merged = counts.compressed(merge).count_many([("a", "b")])
        assert sorted(READS) == [0, 1, 2]  # every partition read once, for all three passes
        counts.release()
        after = counts.count_many([("a",)])  # released: the rows are read again
        assert sorted(READS) == [0, 0, 1, 1, 2, 2]
    np.testing.assert_array_equal(after[0], first[0])
    np.testing.assert_array_equal(first[0], count(whole, ("a",)))
    np.testing.assert_array_equal(first[1], count(whole, ("a", "b")))
    np.testing.assert_array_equal(again[0], count(whole, ("b",)))
    np.testing.assert_array_equal(merged[0], count(merge.apply(whole), ("a", "b")))


def test_without_a_client_nothing_is_kept_and_every_pass_reads_the_rows():
    from dpquilt.marginals.code_counts import PartitionCounts
    from dpquilt.schema import Schema

    reads = []
    part = pd.DataFrame({"a": ["x", "y", "y"]})

    def read(k: int) -> pd.DataFrame:
        reads.append(k)
        return part

    frame = dd.from_map(read, [0, 1], meta=part.iloc[:0], enforce_metadata=False)
    schema = Schema.from_public({"a": {"categories": ["x", "y"], "other": False, "missing": False}})
    counts = PartitionCounts(DaskRows(frame), schema)
    with dask.config.set(scheduler="sync"):
        assert [m.tolist() for m in counts.count_many([("a",)])] == [[2, 4]]
        counts.count_many([("a",)])
    assert len(reads) == 4


def count_a_but_kill_the_worker_once(marker: str, part) -> np.ndarray:
    """``a``'s counts of a part; the first call anywhere kills its worker process (a lost worker)."""
    import os

    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    frame = part[0] if isinstance(part, tuple) else part
    return np.bincount(np.asarray(frame["a"]), minlength=4)


def test_a_lost_worker_is_retried_and_the_counts_are_the_same(tmp_path):
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"a": rng.integers(0, 4, 2000)})
    expected = np.bincount(df["a"], minlength=4)
    frame = dd.from_pandas(df, npartitions=6)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        rows = DaskRows(frame, client)
        counts = rows.tally(functools.partial(count_a_but_kill_the_worker_once, str(tmp_path / "first")), ["a"])
        np.testing.assert_array_equal(counts, expected)
        # codes kept on the workers: the parts of the lost worker are prepared again from the rows
        kept = rows.keep(lambda part: (part.copy(),), ["a"])
        again = kept.tally(functools.partial(count_a_but_kill_the_worker_once, str(tmp_path / "second")))
        np.testing.assert_array_equal(again, expected)
        kept.release()
    assert (tmp_path / "first").exists() and (tmp_path / "second").exists()


def test_a_pass_on_a_cluster_can_show_a_bar_over_its_partitions(capsys):
    distributed = pytest.importorskip("distributed")
    df = pd.DataFrame({"a": np.arange(1000) % 3})
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        rows = DaskRows(dd.from_pandas(df, npartitions=5))
        quiet = rows.tally(lambda part: np.bincount(part["a"], minlength=3), ["a"])
        assert "partition" not in capsys.readouterr().err
        shown = rows.with_progress(True).tally(lambda part: np.bincount(part["a"], minlength=3), ["a"])
        err = capsys.readouterr().err
        assert "pass over the rows" in err and "/5 [" in err  # a bar over the 5 partitions
    np.testing.assert_array_equal(quiet, [334, 333, 333])
    np.testing.assert_array_equal(shown, quiet)


def test_workers_of_the_local_cluster_start_with_large_blocks_off_memory_maps():
    """dpquilt's local cluster keeps Dask's early trimming and adds glibc's threshold for memory
    maps, so that a part's temporary arrays are not mapped afresh (set before the workers spawn)."""
    distributed = pytest.importorskip("distributed")
    import os

    from dpquilt.rows.dask_rows import WORKER_ENVIRONMENT, local_cluster

    with local_cluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        seen = client.run(lambda: {k: os.environ.get(k) for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")})
    (environment,) = seen.values()
    assert environment == {"MALLOC_MMAP_THRESHOLD_": str(WORKER_ENVIRONMENT["MALLOC_MMAP_THRESHOLD_"]), "MALLOC_TRIM_THRESHOLD_": "65536"}
