"""Exact marginals of the encoded rows, many at a time: in memory, or one pass over partitions.

A :class:`~dpquilt.marginals.oracle.LocalOracle` asks a :class:`CodeCounts` for the
exact counts of the cliques it must measure or score, all of a round at once:

- :class:`DatasetCounts` counts codes held in memory (a ``bincount`` per marginal,
  :func:`~dpquilt.marginals.counting.count`);
- :class:`PartitionCounts` counts rows that stay where they are
  (:class:`~dpquilt.rows.engine.RowEngine`, e.g. Dask partitions): each part is
  encoded under the public schema, compressed, and every marginal asked is counted in
  the same pass; the counts are summed over the parts. A pass over a large table costs
  far more than its bincounts, so the marginals of a call share one pass.

Both give the same integers for the same rows, however they are split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np
import pandas as pd

from ..rows.engine import RowEngine
from ..schema.codec import encode
from ..schema.dataset import Dataset
from ..schema.specs import Schema
from .counting import count
from .packed_codes import PackedCodes, PackLayout

if TYPE_CHECKING:
    from .compression import Compression

__all__ = ["CodeCounts", "DatasetCounts", "PartitionCounts"]

Clique = tuple[str, ...]
CountFn = Callable[[Dataset, Sequence[str]], np.ndarray]


class CodeCounts(Protocol):
    """Exact marginals of encoded private rows (private: release only through a mechanism).

    Examples
    --------
    See :class:`DatasetCounts` and :class:`PartitionCounts`.
    """

    @property
    def domain(self) -> Mapping[str, int]: ...

    def count_many(self, cliques: Sequence[Clique]) -> list[np.ndarray]: ...

    def compressed(self, compression: Compression) -> CodeCounts: ...

    def release(self) -> None:
        """Free what was kept for later passes (nothing, for codes in memory)."""
        ...


class DatasetCounts:
    """Marginals of codes held in memory.

    Parameters
    ----------
    data : Dataset
        The encoded private table.
    counter : callable, default :func:`~dpquilt.marginals.counting.count`
        ``counter(data, cols)`` returns one exact marginal.

    Examples
    --------
    >>> counts = DatasetCounts(Dataset({"a": np.array([0, 1, 1])}, {"a": 2}))
    >>> [m.tolist() for m in counts.count_many([("a",)])]
    [[1, 2]]
    """

    def __init__(self, data: Dataset, counter: CountFn = count) -> None:
        self.data, self.counter = data, counter

    @property
    def domain(self) -> Mapping[str, int]:
        return self.data.domain

    def count_many(self, cliques: Sequence[Clique]) -> list[np.ndarray]:
        return [self.counter(self.data, clique) for clique in cliques]

    def compressed(self, compression: Compression) -> DatasetCounts:
        return DatasetCounts(compression.apply(self.data), self.counter)

    def release(self) -> None:
        """Nothing to free: the codes belong to the caller."""


class PartitionCounts:
    """Marginals of rows read part by part through a row engine, encoded under a public schema.

    Parameters
    ----------
    rows : RowEngine
        Where the rows are (:class:`~dpquilt.rows.engine.InMemoryRows`,
        :class:`~dpquilt.rows.dask_rows.DaskRows`).
    schema : Schema
        The complete schema (public, or learned with DP) the parts are encoded under.
        Every column is encoded: a row the schema cannot encode is left out
        (:func:`~dpquilt.schema.codec.encode`) whichever marginal is counted.
    compressions : tuple of Compression
        Applied in order to each part's codes.
    keep_codes : bool, default True
        Encode each part once, at the first pass, and keep its codes where the engine
        can (:meth:`~dpquilt.rows.dask_rows.DaskRows.keep`: on the Dask workers, spilled
        to their disks past Dask's memory target); later passes, and the compressed
        copies made by :meth:`compressed`, count the kept codes instead of reading and
        encoding the rows again. Engines that cannot keep them (local threads) read the
        rows at every pass. The counts are the same either way. Call :meth:`release`
        when done.

    Attributes
    ----------
    curator_notes : dict of str to int
        After a pass: each encoding note (values clipped, unlisted, rows left out) and
        in how many parts it arose. Not DP: for the curator only.

    Examples
    --------
    >>> from dpquilt.rows import InMemoryRows
    >>> schema = Schema.from_public({"a": {"categories": ["x", "y"], "other": False, "missing": False}})
    >>> counts = PartitionCounts(InMemoryRows(pd.DataFrame({"a": ["x", "y", "y"]})), schema)
    >>> [m.tolist() for m in counts.count_many([("a",)])]
    [[1, 2]]
    """

    def __init__(self, rows: RowEngine, schema: Schema, compressions: tuple[Compression, ...] = (),
                 keep_codes: bool = True, _kept: _KeptCodes | None = None) -> None:
        if not schema.complete:
            todo = [c.name for c in schema.columns if not c.complete]
            raise ValueError(f"PartitionCounts needs a complete schema; column(s) {todo} lack facts")
        self.rows, self.schema, self.compressions = rows, schema, tuple(compressions)
        self.keep_codes = keep_codes
        self._kept = _kept if _kept is not None else _KeptCodes()  # shared with the compressed copies
        self.curator_notes: dict[str, int] = {}

    @property
    def domain(self) -> Mapping[str, int]:
        return self.compressions[-1].domain if self.compressions else self.schema.domain()

    def count_many(self, cliques: Sequence[Clique]) -> list[np.ndarray]:
        cliques = [tuple(c) for c in cliques]
        if not cliques:
            return []
        job = _CodeCountJob(self.schema.domain(), self.compressions, cliques)
        kept = self._kept.parts(self.rows, self.schema) if self.keep_codes else None
        if kept is not None:
            counts, notes = kept.tally(job)
        else:
            counts, notes = self.rows.tally(_CountJob(self.schema, job), list(self.schema.names))
        self.curator_notes = dict(notes)
        return list(counts)

    def compressed(self, compression: Compression) -> PartitionCounts:
        return PartitionCounts(self.rows, self.schema, self.compressions + (compression,), self.keep_codes, self._kept)

    def release(self) -> None:
        """Free the kept codes (of this object and its compressed copies)."""
        self._kept.release()


class _KeptCodes:
    """The parts' codes, encoded at the first pass that asks and kept by the engine (or ``None``)."""

    def __init__(self) -> None:
        self._parts, self._tried = None, False

    def parts(self, rows: RowEngine, schema: Schema):
        if not self._tried:
            self._tried = True
            keep = getattr(rows, "keep", None)
            self._parts = keep(_EncodeJob(schema, packed=True), list(schema.names)) if keep is not None else None
        return self._parts

    def release(self) -> None:
        if self._parts is not None:
            self._parts.release()
        self._parts = None


class _EncodeJob:
    """One part's codes and encoding notes: packed several columns to a byte
    (:class:`~dpquilt.marginals.packed_codes.PackedCodes`) when kept, else each column in
    its smallest unsigned type."""

    def __init__(self, schema: Schema, packed: bool = False) -> None:
        self.schema = schema
        self.layout = PackLayout.of(schema.domain()) if packed else None

    def __call__(self, part: pd.DataFrame) -> tuple[dict[str, np.ndarray] | PackedCodes, tuple[str, ...]]:
        encoded = encode(part, self.schema)
        if self.layout is not None:
            return PackedCodes.of(encoded.data, self.layout), encoded.notes
        return dict(encoded.data.columns), encoded.notes


class _CodeCountJob:
    """One part's marginals from its codes: compress, count every clique (a class, so workers can unpickle it)."""

    def __init__(self, domain: Mapping[str, int], compressions: tuple[Compression, ...], cliques: list[Clique]) -> None:
        self.domain, self.compressions, self.cliques = dict(domain), compressions, cliques

    def __call__(self, encoded: tuple[dict[str, np.ndarray] | PackedCodes, tuple[str, ...]]
                 ) -> tuple[tuple[np.ndarray, ...], dict[str, int]]:
        codes, notes = encoded
        if isinstance(codes, PackedCodes):  # compressions fold into the lookup tables: no copy of the codes
            return tuple(codes.count_many(self.cliques, self.compressions)), dict.fromkeys(notes, 1)
        data = Dataset(codes, self.domain)
        for compression in self.compressions:
            data = compression.apply(data)
        return tuple(count(data, clique) for clique in self.cliques), dict.fromkeys(notes, 1)


class _CountJob:
    """One part's marginals from its rows: encode, then :class:`_CodeCountJob`."""

    def __init__(self, schema: Schema, counts: _CodeCountJob) -> None:
        self.encode, self.counts = _EncodeJob(schema), counts

    def __call__(self, part: pd.DataFrame) -> tuple[tuple[np.ndarray, ...], dict[str, int]]:
        return self.counts(self.encode(part))
