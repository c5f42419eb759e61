"""Counts that schema learning released, kept so the marginal path can use them again.

Learning a category list or a numeric column's point masses releases noisy counts of
the values that cleared the stability histogram's threshold (and of missing values):
:func:`~dpquilt.privacy.mechanisms.thresholded_counts`. Those counts are DP outputs, so
reading them again is post-processing. Once the schema is complete, each released value
has a code, and its count is a noisy measurement of one cell of the column's 1-way
marginal. The marginal path merges these cells into its own 1-way measurements
(:func:`~dpquilt.marginals.measurement.merge_measurements`) instead of throwing them
away. Each count is then paid for once.

The counts were taken over the rows as handed over. Encoding later leaves out the rare
rows that hold a value the schema has no code for, such as a missing value in a column
whose missing count stayed under its threshold. A reused count can therefore exceed the
encoded rows' count by those few rows. This is a small bias, well inside the noise, and
it costs no privacy: the counts were released anyway.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from .point_masses import MISSING_KEY
from .specs import CategoricalColumn, ColumnSpec, NumericColumn

__all__ = ["CountRelease"]


@dataclass(frozen=True)
class CountRelease:
    """Noisy counts of some values of one column, released while learning its schema.

    Parameters
    ----------
    column : str
        The column.
    counts : mapping
        Released value -> noisy count (:data:`~dpquilt.schema.point_masses.MISSING_KEY`
        for missing values).
    sigma : float
        Standard deviation of the discrete Gaussian noise on each count.
    what : str
        The ledger entry that paid for the counts.

    Examples
    --------
    >>> spec = CategoricalColumn("city", categories=("oslo", "rome"), other=True, missing=False)
    >>> release = CountRelease("city", {"rome": 2010, "oslo": 2990}, 12.0, "categories of 'city'")
    >>> codes, counts = release.cells(spec)
    >>> codes.tolist(), counts.tolist()
    ([1, 0], [2010.0, 2990.0])
    """

    column: str
    counts: Mapping[Hashable, int]
    sigma: float
    what: str

    def cells(self, spec: ColumnSpec) -> tuple[np.ndarray, np.ndarray]:
        """The codes under the complete ``spec`` of the released values that have one, and their counts.

        Category values map to their position, point masses to their point code and
        missing values to the missing code. Released values without a code under
        ``spec`` are skipped: point masses beyond
        :data:`~dpquilt.schema.point_masses.MAX_POINTS`, and a missing count when the
        column keeps no missing code.
        """
        if isinstance(spec, CategoricalColumn):
            position = {value: i for i, value in enumerate(spec.categories or ())}
        elif isinstance(spec, NumericColumn):
            position = {value: spec.n_bins + i for i, value in enumerate(spec.points or ())}
        else:
            raise TypeError(f"column {self.column!r}: a {type(spec).__name__} has no codes yet; complete its schema first")
        codes, counts = [], []
        for value, count in self.counts.items():
            if value is MISSING_KEY:
                code = spec.missing_code if spec.missing else None
            else:
                code = position.get(float(value) if isinstance(spec, NumericColumn) else value)
            if code is not None:
                codes.append(code)
                counts.append(float(count))
        return np.asarray(codes, dtype=np.int64), np.asarray(counts, dtype=np.float64)
