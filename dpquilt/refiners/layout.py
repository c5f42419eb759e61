"""What a backend sees: every column's codes (to condition on) and numeric positions (to learn).

A backend conditions on the codes of all columns of a record and produces, for each
numeric column, the position ``u`` in ``[0, 1)`` of the value inside its bin (see
:mod:`.positions`). Columns whose bins hold a single value (integer columns with one
bin per value) have nothing to learn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..schema import NumericColumn, Schema
from ..schema.column_types import numeric_values
from ..schema.dataset import Dataset
from ..schema.positions import positions_in_bins

__all__ = ["Layout"]


def _has_room(spec: NumericColumn) -> bool:
    slots = _slots(spec)
    return slots is None or any(w > 1 for w in slots)


def _slots(spec: NumericColumn) -> tuple[int, ...] | None:
    if spec.grain is None:
        return None
    return tuple(int(round(w)) for w in np.diff(np.asarray(spec.bin_edges())) / spec.grain)


@dataclass(frozen=True)
class Layout:
    """Columns to condition on and numeric columns to place inside their bins.

    Parameters
    ----------
    columns : tuple of str
        Every column, in schema order (conditioning inputs).
    sizes : tuple of int
        Codes per column.
    numeric : tuple of str
        Numeric columns, in schema order.
    missing_codes : tuple of int or None
        The missing code of each numeric column.
    learnable : tuple of bool
        Whether each numeric column has a bin holding more than one value.
    bins : tuple of int
        Bins of each numeric column (its codes ``0 .. bins - 1``; points and missing follow).
    slots : tuple of (tuple of int or None)
        For each numeric column on a grid (integers; datetimes with a unit: days), how
        many grid points each bin holds; ``None`` for a continuum (floats, instants).

    Examples
    --------
    >>> from dpquilt.schema import CategoricalColumn
    >>> s = Schema([CategoricalColumn("c", ("a", "b")), NumericColumn("x", lower=0, upper=1, bins=4),
    ...             NumericColumn("k", kind="integer", lower=0, upper=3)])
    >>> lay = Layout.of(s)
    >>> lay.numeric, lay.learnable, lay.learned
    (('x', 'k'), (True, False), ('x',))
    >>> lay.bins, lay.slots
    ((4, 4), (None, (1, 1, 1, 1)))
    """

    columns: tuple[str, ...]
    sizes: tuple[int, ...]
    numeric: tuple[str, ...]
    missing_codes: tuple[int | None, ...]
    learnable: tuple[bool, ...]
    bins: tuple[int, ...] = ()
    slots: tuple[tuple[int, ...] | None, ...] = ()

    @classmethod
    def of(cls, schema: Schema) -> Layout:
        numeric = [s for s in schema.columns if isinstance(s, NumericColumn)]
        return cls(
            tuple(schema.names),
            tuple(int(s.size) for s in schema.columns),
            tuple(s.name for s in numeric),
            tuple(s.missing_code for s in numeric),
            tuple(_has_room(s) for s in numeric),
            tuple(s.n_bins for s in numeric),
            tuple(_slots(s) for s in numeric),
        )

    @property
    def learned(self) -> tuple[str, ...]:
        """Numeric columns a model learns positions for."""
        return tuple(n for n, ok in zip(self.numeric, self.learnable) if ok)

    def codes_of(self, data: Dataset) -> np.ndarray:
        """``(n, columns)`` int64 matrix of codes."""
        if not self.columns:
            return np.zeros((data.n_rows, 0), dtype=np.int64)
        return np.stack([np.asarray(data.columns[c], dtype=np.int64) for c in self.columns], axis=1)

    def numeric_codes(self, data: Dataset) -> Mapping[str, np.ndarray]:
        """The bin codes of each numeric column."""
        return {n: np.asarray(data.columns[n], dtype=np.int64) for n in self.numeric}

    @property
    def missing_by_column(self) -> dict[str, int | None]:
        """The missing code of each numeric column."""
        return dict(zip(self.numeric, self.missing_codes))

    def targets_of(self, df: pd.DataFrame, schema: Schema) -> np.ndarray:
        """``(n, learned)`` positions of the private values in their bins; NaN where missing.

        Reads private values: pass the result only to a backend that spends budget.
        """
        out = np.full((len(df), len(self.learned)), np.nan)
        for j, name in enumerate(self.learned):
            spec = schema[name]
            present = ~df[name].isna().to_numpy()
            values = numeric_values(df[name], spec.kind)
            lo, hi = spec.clip_range
            _, u = positions_in_bins(np.clip(values, lo, hi), np.asarray(spec.bin_edges()), spec.kind, spec.grain)
            out[present, j] = u
        return out
