"""A part's codes with several small columns to a byte: what Dask workers keep between passes.

A fit on partitioned rows encodes each part once and keeps its codes on the workers for
every later pass (:class:`~dpquilt.marginals.code_counts.PartitionCounts`). One byte a
column is more than most columns need (a flag needs one bit), and codes that pass a
worker's memory target are spilled to its disk and read back at every pass. So columns
are packed in mixed radix, the rule :func:`~dpquilt.marginals.counting.combined_index`
uses for cells: a pack of columns ``c_1 .. c_k`` with sizes ``d_1 .. d_k`` holds
``((c_1 d_2 + c_2) d_3 + ..) + c_k`` in one byte while ``d_1 d_2 .. d_k <= 256``. The
20 columns of ``benchmarks/dask_scale.py`` (sizes 2 to 80) fit in 10 bytes a row.

Counting reads each column through a lookup table from pack values to codes, into which
a :class:`~dpquilt.marginals.compression.Compression` folds, so a compressed pass makes
no copy of the codes. The counts equal :func:`~dpquilt.marginals.counting.count` on the
unpacked codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np

from ..schema.dataset import Dataset, smallest_code_dtype
from .counting import COMPILED_MAX_CELLS, count
from .counting import _count1 as _histogram  # a pack's values counted as codes

if TYPE_CHECKING:
    from .compression import Compression

__all__ = ["PACK_CELLS", "PackLayout", "PackedCodes"]

Clique = tuple[str, ...]
#: the most cells (product of the column sizes) a one-byte pack holds
PACK_CELLS = 256


@dataclass(frozen=True)
class PackLayout:
    """Which columns share a byte, chosen from the public domain alone.

    First-fit decreasing: columns from the largest to the smallest, each into the first
    pack whose cells times its size stay within :data:`PACK_CELLS`; a column of more than
    :data:`PACK_CELLS` codes has a pack of its own (in its smallest unsigned type).

    Examples
    --------
    >>> layout = PackLayout.of({"age": 80, "flag": 2, "region": 9, "kids": 5})
    >>> layout.packs
    (('age', 'flag'), ('region', 'kids'))
    >>> layout.lookup("flag").tolist()[:6]  # pack value age * 2 + flag -> flag
    [0, 1, 0, 1, 0, 1]
    """

    packs: tuple[Clique, ...]
    domain: Mapping[str, int]

    @classmethod
    def of(cls, domain: Mapping[str, int]) -> PackLayout:
        """The layout of ``domain`` (ties between equal sizes kept in the domain's order)."""
        domain = {str(c): int(k) for c, k in domain.items()}
        packs: list[list[str]] = []
        cells: list[int] = []
        for column in sorted(domain, key=lambda c: -domain[c]):
            size = domain[column]
            fits = next((i for i, n in enumerate(cells) if n * size <= PACK_CELLS), None)
            if fits is None:
                packs.append([column])
                cells.append(size)
            else:
                packs[fits].append(column)
                cells[fits] *= size
        return cls(tuple(tuple(p) for p in packs), domain)

    def cells(self, pack: int) -> int:
        """Values pack ``pack`` can take (the product of its columns' sizes)."""
        return int(np.prod([self.domain[c] for c in self.packs[pack]], dtype=np.int64))

    def place(self, column: str) -> tuple[int, int]:
        """``(pack, stride)``: ``column``'s code is ``pack_value // stride % size``."""
        for k, members in enumerate(self.packs):
            if column in members:
                later = members[members.index(column) + 1:]
                return k, int(np.prod([self.domain[c] for c in later], dtype=np.int64))
        raise KeyError(f"column {column!r} is not in this layout; known: {list(self.domain)}")

    def lookup(self, column: str, mapping: np.ndarray | None = None) -> np.ndarray:
        """The table from ``column``'s pack values to its code (through ``mapping``, a
        compression's map from codes to merged codes, when given), in its smallest type."""
        pack, stride = self.place(column)
        codes = np.arange(self.cells(pack), dtype=np.int64) // stride % self.domain[column]
        if mapping is not None:
            codes = np.asarray(mapping)[codes]
        return codes.astype(smallest_code_dtype(int(codes.max()) + 1 if codes.size else 1))


@dataclass(frozen=True, eq=False)
class PackedCodes:
    """One part's codes, packed by a :class:`PackLayout` (see the module docstring).

    Examples
    --------
    >>> data = Dataset({"a": np.array([0, 1, 1]), "b": np.array([2, 0, 2])}, {"a": 2, "b": 3})
    >>> packed = PackedCodes.of(data)
    >>> packed.layout.packs, packed.packs[0].tolist()  # b * 2 + a
    ((('b', 'a'),), [4, 1, 5])
    >>> packed.count(("a", "b")).tolist() == count(data, ("a", "b")).tolist()
    True
    """

    layout: PackLayout
    packs: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, data: Dataset, layout: PackLayout | None = None) -> PackedCodes:
        """Pack ``data``'s codes (by ``PackLayout.of(data.domain)`` unless given)."""
        layout = layout if layout is not None else PackLayout.of(data.domain)
        packs = []
        for k, members in enumerate(layout.packs):
            value = data.columns[members[0]].astype(np.int64 if layout.cells(k) > 2**16 else np.uint16)
            for column in members[1:]:
                value *= layout.domain[column]
                value += data.columns[column]
            packs.append(value.astype(smallest_code_dtype(layout.cells(k)), copy=False))
        return cls(layout, tuple(packs))

    @property
    def n_rows(self) -> int:
        return int(self.packs[0].size) if self.packs else 0

    @property
    def nbytes(self) -> int:
        return int(sum(p.nbytes for p in self.packs))

    def __sizeof__(self) -> int:  # what Dask's memory manager counts for a kept part
        return self.nbytes + 64 * len(self.packs)

    def lookups(self, compressions: Sequence[Compression] = ()) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """Each column's lookup table with ``compressions`` folded in, and the domain they give."""
        domain = dict(self.layout.domain)
        tables = {}
        for column in domain:
            table = self.layout.lookup(column)
            for compression in compressions:
                table = np.asarray(compression.mapping[column])[table]
            tables[column] = table.astype(smallest_code_dtype(int(table.max()) + 1 if table.size else 1), copy=False)
        for compression in compressions:
            domain = {c: compression.domain[c] for c in domain}
        return tables, domain

    def count_many(self, cliques: Sequence[Sequence[str]], compressions: Sequence[Compression] = ()) -> list[np.ndarray]:
        """:meth:`count` for each clique, through ``compressions``. A clique whose columns
        share one pack is summed from that pack's histogram, made once for all of them
        (each 1-way marginal is such a clique).

        Examples
        --------
        >>> data = Dataset({"a": np.array([0, 1, 1]), "b": np.array([2, 0, 2])}, {"a": 2, "b": 3})
        >>> [m.tolist() for m in PackedCodes.of(data).count_many([("a",), ("b",), ("a", "b")])]
        [[1, 2], [1, 0, 2], [[0, 0, 1], [1, 0, 1]]]
        """
        lookups, domain = self.lookups(compressions)
        histograms: dict[int, np.ndarray] = {}
        out = []
        for clique in cliques:
            clique = tuple(clique)
            packs = {self.layout.place(c)[0] for c in clique if c in lookups}
            if len(packs) != 1 or len(set(clique)) != len(clique) or any(c not in lookups for c in clique):
                out.append(self.count(clique, lookups, domain))
                continue
            (pack,) = packs
            if pack not in histograms:
                histograms[pack] = _histogram(self.packs[pack], self.layout.cells(pack))
            cell = np.zeros(histograms[pack].size, dtype=np.int64)
            for c in clique:
                cell = cell * domain[c] + lookups[c]
            shape = tuple(int(domain[c]) for c in clique)
            summed = np.bincount(cell, weights=histograms[pack], minlength=int(np.prod(shape, dtype=np.int64)))
            out.append(np.rint(summed).astype(np.int64).reshape(shape))
        return out

    def column(self, name: str, lookup: np.ndarray | None = None) -> np.ndarray:
        """One column's codes, unpacked (through ``lookup`` when given)."""
        pack, _ = self.layout.place(name)
        return np.take(lookup if lookup is not None else self.layout.lookup(name), self.packs[pack])

    def count(self, clique: Sequence[str], lookups: Mapping[str, np.ndarray] | None = None,
              domain: Mapping[str, int] | None = None) -> np.ndarray:
        """The exact marginal over ``clique``, as :func:`~dpquilt.marginals.counting.count`
        on the unpacked codes (through ``lookups`` over ``domain``, e.g. from :meth:`lookups`).

        Marginals of one to three columns are counted by a compiled loop that reads each
        column through its lookup table; others from the unpacked columns.
        """
        clique = tuple(clique)
        if lookups is None:
            lookups, domain = self.lookups()
        assert domain is not None
        unknown = [c for c in clique if c not in lookups]
        if unknown:
            raise KeyError(f"column(s) {unknown} are not in these codes; known: {list(lookups)}")
        shape = tuple(int(domain[c]) for c in clique)
        cells = int(np.prod(shape, dtype=np.int64))
        if not 1 <= len(clique) <= 3 or len(set(clique)) != len(clique) or cells > COMPILED_MAX_CELLS:
            return count(Dataset({c: self.column(c, lookups[c]) for c in clique}, {c: domain[c] for c in clique}), clique)
        packs = [self.packs[self.layout.place(c)[0]] for c in clique]
        tables = [lookups[c] for c in clique]
        if len(clique) == 1:
            counts = _count1(packs[0], tables[0], cells)
        elif len(clique) == 2:
            counts = _count2(packs[0], tables[0], packs[1], tables[1], shape[1], cells)
        else:
            counts = _count3(packs[0], tables[0], packs[1], tables[1], packs[2], tables[2], shape[1], shape[2], cells)
        return counts.reshape(shape)


@numba.njit(cache=True)
def _count1(a, la, cells):  # pragma: no cover - compiled
    counts = np.zeros(cells, dtype=np.int64)
    for i in range(a.size):
        counts[la[a[i]]] += 1
    return counts


@numba.njit(cache=True)
def _count2(a, la, b, lb, size_b, cells):  # pragma: no cover - compiled
    counts = np.zeros(cells, dtype=np.int64)
    for i in range(a.size):
        counts[np.int64(la[a[i]]) * size_b + lb[b[i]]] += 1
    return counts


@numba.njit(cache=True)
def _count3(a, la, b, lb, c, lc, size_b, size_c, cells):  # pragma: no cover - compiled
    counts = np.zeros(cells, dtype=np.int64)
    for i in range(a.size):
        counts[(np.int64(la[a[i]]) * size_b + lb[b[i]]) * size_c + lc[c[i]]] += 1
    return counts
