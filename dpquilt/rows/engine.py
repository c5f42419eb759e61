"""Where the private rows live, and the one pass that reads them: a tally of each part, summed.

Every read of private rows in dpquilt is a *tally*: a function of a part of the table
that returns counts (an integer array, a mapping of value to count, or a tuple of
these), added up over the parts. Schema learning's histograms, the marginals' counts,
the selection scores' counts and the refiner's histograms are all tallies, so the same
code runs on a DataFrame in memory (:class:`InMemoryRows`, one part) and on a table
split over Dask workers (:class:`~dpquilt.rows.dask_rows.DaskRows`, one part per
partition, the tallies reduced in a tree). Noise is added afterwards, once, to the
summed exact counts: the release does not depend on how the rows were split.

Counts are integers, so their sums are exact in any order; mappings come back with
their keys sorted (:func:`sorted_counts`), so the order in which a mechanism draws
noise for them does not depend on the split either.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, Union

import numpy as np
import pandas as pd

__all__ = ["ColumnValues", "InMemoryRows", "RowEngine", "Tally", "TallyJob", "ValueCounts", "add_tallies", "sorted_counts"]

@dataclass(frozen=True)
class ValueCounts:
    """How many rows hold each distinct number: sorted ``values`` and their ``counts``.

    The tally of a numeric column's distinct values (point masses) kept as arrays: a
    part with a million distinct amounts merges with another in a sort, not a million
    dictionary updates.

    Examples
    --------
    >>> a = ValueCounts.of(np.array([3.0, 1.0, 3.0]))
    >>> b = ValueCounts.of(np.array([2.0, 3.0]))
    >>> a.merged(b).as_dict()
    {1.0: 1, 2.0: 1, 3.0: 3}
    """

    values: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray) -> ValueCounts:
        """The distinct values of ``x`` (no NaN) and how often each occurs."""
        values, counts = np.unique(np.asarray(x, dtype=np.float64), return_counts=True)
        return cls(values, counts.astype(np.int64))

    def merged(self, other: ValueCounts) -> ValueCounts:
        values = np.concatenate([self.values, other.values])
        counts = np.concatenate([self.counts, other.counts])
        order = np.argsort(values, kind="stable")
        values, counts = values[order], counts[order]
        starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]])) if values.size else np.zeros(0, int)
        return ValueCounts(values[starts], np.add.reduceat(counts, starts) if values.size else counts)

    def as_dict(self) -> dict[float, int]:
        """``{value: count}`` in increasing order of value."""
        return dict(zip(self.values.tolist(), self.counts.tolist()))


#: What a pass over one part of the rows returns: counts that add up over parts.
Tally = Union[np.ndarray, Mapping[Hashable, int], ValueCounts, tuple["Tally", ...]]
#: A function of one part of the rows (a DataFrame with the columns asked for) to its tally.
TallyJob = Callable[[pd.DataFrame], Tally]


class RowEngine(Protocol):
    """The private rows, wherever they are: their public layout and one way to read them.

    ``columns`` and ``dtypes`` are public metadata (a file's or frame's declared
    types). ``tally(job, columns)`` runs ``job`` on every part of the rows restricted
    to ``columns`` and returns the sum of the parts' tallies (:func:`add_tallies`).
    Private: release only through a mechanism.

    Examples
    --------
    >>> rows = InMemoryRows(pd.DataFrame({"a": [1, 2, 2]}))
    >>> rows.tally(lambda part: np.bincount(part["a"], minlength=3), ["a"]).tolist()
    [0, 1, 2]
    """

    @property
    def columns(self) -> tuple[str, ...]: ...

    @property
    def dtypes(self) -> pd.Series: ...

    def meta(self) -> pd.DataFrame:
        """An empty frame with the rows' columns and types (public metadata)."""
        ...

    def tally(self, job: TallyJob, columns: Sequence[str] | None = None) -> Tally: ...


class InMemoryRows:
    """Rows held in one pandas DataFrame on this machine: one part, read in place.

    Parameters
    ----------
    frame : DataFrame
        The private table.

    Examples
    --------
    >>> rows = InMemoryRows(pd.DataFrame({"c": ["x", "y", "x"]}))
    >>> rows.columns, rows.tally(lambda part: dict(part["c"].value_counts()), ["c"])
    (('c',), {'x': 2, 'y': 1})
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.frame.columns)

    @property
    def dtypes(self) -> pd.Series:
        return self.frame.dtypes

    def meta(self) -> pd.DataFrame:
        return self.frame.iloc[:0]

    def tally(self, job: TallyJob, columns: Sequence[str] | None = None) -> Tally:
        frame = self.frame if columns is None else self.frame[list(columns)]
        return normalised(job(frame))


def add_tallies(a: Tally, b: Tally) -> Tally:
    """The sum of two parts' tallies: arrays cell by cell, mappings key by key, tuples item by item.

    Examples
    --------
    >>> add_tallies((np.array([1, 2]), {"x": 1}), (np.array([0, 5]), {"x": 2, "y": 1}))
    (array([1, 7]), {'x': 3, 'y': 1})
    """
    if isinstance(a, tuple):
        if not isinstance(b, tuple) or len(a) != len(b):
            raise TypeError("tallies of different shapes cannot be added; every part's job must return the same layout")
        return tuple(add_tallies(x, y) for x, y in zip(a, b))
    if isinstance(a, ValueCounts):
        if not isinstance(b, ValueCounts):
            raise TypeError("value counts cannot be added to another kind of tally")
        return a.merged(b)
    if isinstance(a, Mapping):
        if not isinstance(b, Mapping):
            raise TypeError("a mapping tally cannot be added to an array tally")
        out = dict(a)
        for key, value in b.items():
            out[key] = out.get(key, 0) + value
        return sorted_counts(out)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise TypeError(f"array tallies of shapes {a.shape} and {b.shape} cannot be added")
    return a + b


def normalised(tally: Tally) -> Tally:
    """``tally`` as every engine returns it: mappings with sorted keys and Python ints.

    Examples
    --------
    >>> normalised({"b": np.int64(2), "a": 1})
    {'a': 1, 'b': 2}
    """
    if isinstance(tally, tuple):
        return tuple(normalised(t) for t in tally)
    if isinstance(tally, Mapping):
        return sorted_counts(tally)
    if isinstance(tally, ValueCounts):
        return tally
    return np.asarray(tally)


def sorted_counts(counts: Mapping[Hashable, int]) -> dict[Hashable, int]:
    """``counts`` with keys in one order that no split of the rows can change: by type name, then value.

    Examples
    --------
    >>> sorted_counts({"b": 1, 2: 3, "a": 4})
    {2: 3, 'a': 4, 'b': 1}
    """
    return {key: int(counts[key]) for key in sorted(counts, key=_order)}


def _order(key: Hashable) -> tuple:
    if isinstance(key, (bool, np.bool_)):
        return ("bool", bool(key))
    if isinstance(key, (int, float, np.number)):
        return ("number", float(key), str(key))
    return (type(key).__name__, key)


class ColumnValues:
    """One column of the rows, prepared part by part (``prepare`` steps), read only by tallies.

    Schema learning reads a column through this: each fact's histogram is a tally of
    the prepared values, so it runs the same on a Series in memory and on partitions.

    Parameters
    ----------
    rows : RowEngine
        Where the rows are.
    name : str
        The column.
    prepare : tuple of callables
        Applied in order to each part's column (a Series) before the tally's job.

    Examples
    --------
    >>> values = ColumnValues.of(pd.Series([1.0, 2.0, None])).map(lambda s: s.dropna().to_numpy())
    >>> values.tally(lambda x: np.array([x.size]))
    array([2])
    """

    def __init__(self, rows: RowEngine, name: str, prepare: tuple[Callable, ...] = ()) -> None:
        self.rows, self.name, self.prepare = rows, name, tuple(prepare)

    @classmethod
    def of(cls, values: pd.Series | ColumnValues) -> ColumnValues:
        """``values`` itself, or a Series as the one column of rows in memory."""
        if isinstance(values, ColumnValues):
            return values
        name = str(values.name) if values.name is not None else "value"
        return cls(InMemoryRows(values.to_frame(name)), name)

    def map(self, step: Callable) -> ColumnValues:
        """These values with one more preparation step."""
        return ColumnValues(self.rows, self.name, self.prepare + (step,))

    def tally(self, job: Callable) -> Tally:
        """The sum over parts of ``job(prepared column)``."""
        return self.rows.tally(_ColumnJob(self.name, self.prepare, job), [self.name])


class _ColumnJob:
    """A tally job over one column with its preparation (a class, so workers can unpickle it)."""

    def __init__(self, name: str, prepare: tuple[Callable, ...], job: Callable) -> None:
        self.name, self.prepare, self.job = name, prepare, job

    def __call__(self, part: pd.DataFrame) -> Tally:
        values = part[self.name]
        for step in self.prepare:
            values = step(values)
        return self.job(values)

