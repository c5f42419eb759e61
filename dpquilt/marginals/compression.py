"""Merging rarely seen codes before MST's selection and 2-way measurements.

Values whose noisy 1-way count is below ``COMPRESS_SIGMAS`` standard deviations are
merged into one code per column (McKenna, Miklau and Sheldon, JPC 2021, Section 4),
chosen from the released 1-way measurements only (post-processing), and split back
uniformly at random when records are decoded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..schema.dataset import Dataset
from .measurement import Measurement

__all__ = ["COMPRESS_SIGMAS", "Compression", "compress"]

#: Codes with noisy 1-way count below this many standard deviations are merged.
COMPRESS_SIGMAS = 3.0


@dataclass(frozen=True)
class Compression:
    """Merging of rarely seen codes, chosen from noisy 1-way counts only.

    ``mapping[c][code]`` is the compressed code; ``merged[c]`` lists the original
    codes folded into the last compressed code (empty when nothing was merged).

    Examples
    --------
    >>> c = Compression({"a": np.array([0, 1, 2, 2])}, {"a": np.array([2, 3])})  # codes 2 and 3 merged
    >>> c.domain, c.apply(Dataset({"a": np.array([0, 3, 2])}, {"a": 4})).columns["a"].tolist()
    ({'a': 3}, [0, 2, 2])
    """

    mapping: dict[str, np.ndarray]
    merged: dict[str, np.ndarray]

    @classmethod
    def identity(cls, domain: dict[str, int]) -> Compression:
        """No merging."""
        return cls({c: np.arange(k) for c, k in domain.items()}, {c: np.array([], dtype=np.int64) for c in domain})

    @property
    def domain(self) -> dict[str, int]:
        return {c: int(m.max()) + 1 for c, m in self.mapping.items()}

    def apply(self, data: Dataset) -> Dataset:
        return Dataset({c: self.mapping[c][data.columns[c]] for c in data.names}, self.domain)

    def spread(self, column: str, marginal: np.ndarray) -> np.ndarray:
        """A 1-way ``marginal`` over compressed codes as one over the original codes.

        The merged code's mass is split evenly over the codes it holds, as :meth:`undo`
        draws them.

        Examples
        --------
        >>> c = Compression({"a": np.array([0, 1, 2, 2])}, {"a": np.array([2, 3])})
        >>> c.spread("a", np.array([5.0, 3.0, 2.0])).tolist()
        [5.0, 3.0, 1.0, 1.0]
        """
        mapping, merged = self.mapping[column], self.merged[column]
        out = np.asarray(marginal, dtype=np.float64)[mapping]
        if merged.size:
            out[merged] /= merged.size
        return out

    def undo(self, data: Dataset, rng: np.random.Generator) -> Dataset:
        """Map compressed codes back, drawing merged codes uniformly among their originals."""
        out = {}
        for c in data.names:
            size, merged = self.mapping[c].size, self.merged[c]
            kept = np.flatnonzero(~np.isin(np.arange(size), merged))
            codes = data.columns[c].astype(np.int64)
            is_kept = codes < kept.size
            original = np.empty_like(codes)
            original[is_kept] = kept[codes[is_kept]]
            if merged.size:
                original[~is_kept] = rng.choice(merged, size=int((~is_kept).sum()))
            out[c] = original
        return Dataset(out, {c: m.size for c, m in self.mapping.items()})


def compress(one_way: Sequence[Measurement], domain: dict[str, int]) -> tuple[Compression, list[Measurement]]:
    """Merge codes with noisy count under ``COMPRESS_SIGMAS * sigma`` (post-processing).

    The merged cell's measurement is the sum of the merged cells' estimates ``y_i / w_i``,
    whose variance is ``sigma^2 sum_i 1 / w_i^2``; its weight ``(sum_i 1 / w_i^2)^(-1/2)``
    (``1/sqrt(k)`` for ``k`` unit-weight cells) keeps the noise at ``sigma``.
    """
    mapping, merged, measurements = {}, {}, []
    for m in one_way:
        (col,) = m.cols
        y = m.noisy
        w = m.cell_weights
        keep = y >= COMPRESS_SIGMAS * m.sigma  # y / w >= 3 sigma / w: the estimate clears 3 of its deviations
        rare = np.flatnonzero(~keep)
        idx = np.empty(domain[col], dtype=np.int64)
        idx[keep] = np.arange(int(keep.sum()))
        idx[~keep] = int(keep.sum())
        mapping[col], merged[col] = idx, rare
        if rare.size == 0:
            measurements.append(m)
            continue
        w_merged = 1.0 / math.sqrt(float(np.sum(1.0 / w[rare] ** 2)))
        y2 = np.append(y[keep], w_merged * float(np.sum(y[rare] / w[rare])))
        measurements.append(Measurement(m.cols, y2, m.sigma, np.append(w[keep], w_merged)))
    return Compression(mapping, merged), measurements
