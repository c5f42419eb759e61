"""Integer-coded tables: the input of every counting query."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "smallest_code_dtype"]


def smallest_code_dtype(size: int) -> np.dtype:
    """The smallest unsigned integer dtype holding codes ``0 .. size - 1``.

    Examples
    --------
    >>> smallest_code_dtype(256), smallest_code_dtype(257)
    (dtype('uint8'), dtype('uint16'))
    """
    return np.min_scalar_type(max(int(size) - 1, 0))


@dataclass(frozen=True)
class Dataset:
    """Columns of integer codes with their domain sizes.

    Parameters
    ----------
    columns : mapping of str to 1-D integer arrays
        Codes ``0 .. domain[c] - 1`` per column, all of the same length. Stored in
        the smallest unsigned dtype that holds them.
    domain : mapping of str to int
        Number of codes per column, in column order.

    Examples
    --------
    >>> d = Dataset({"a": np.array([0, 1, 1])}, {"a": 2})
    >>> d.n_rows, d.columns["a"].dtype
    (3, dtype('uint8'))
    """

    columns: Mapping[str, np.ndarray]
    domain: Mapping[str, int]

    def __post_init__(self) -> None:
        domain = {str(k): int(v) for k, v in self.domain.items()}
        missing = [c for c in domain if c not in self.columns]
        if missing:
            raise ValueError(f"Dataset: no codes for column(s) {missing} of the domain")
        cols = {}
        lengths = set()
        for name, size in domain.items():
            codes = np.asarray(self.columns[name])
            if codes.ndim != 1 or not np.issubdtype(codes.dtype, np.integer):
                raise ValueError(f"Dataset: column {name!r} must be a 1-D integer array, got {codes.dtype} {codes.shape}")
            if codes.size and (codes.min() < 0 or codes.max() >= size):
                raise ValueError(
                    f"Dataset: column {name!r} has codes outside 0..{size - 1}; check its domain size"
                )
            cols[name] = codes.astype(smallest_code_dtype(size), copy=False)
            lengths.add(codes.size)
        if len(lengths) > 1:
            raise ValueError(f"Dataset: columns have different lengths {sorted(lengths)}")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "domain", domain)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.domain)

    @property
    def n_rows(self) -> int:
        """Number of rows (private when the data is: never release it without noise)."""
        return next(iter(self.columns.values())).size if self.columns else 0

    def shape_of(self, cols: tuple[str, ...]) -> tuple[int, ...]:
        """The shape of the marginal on ``cols``: each column's number of codes.

        Examples
        --------
        >>> Dataset({"a": np.array([0]), "b": np.array([1])}, {"a": 2, "b": 3}).shape_of(("b", "a"))
        (3, 2)
        """
        return tuple(self.domain[c] for c in cols)
