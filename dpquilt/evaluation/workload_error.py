"""Workload error: mean total variation between real and synthetic marginals.

As in the AIM paper (McKenna, Mullins, Sheldon and Miklau, VLDB 2022, Section 6):
for a workload of marginals ``W``, the error is
``(1/|W|) sum_{C in W} 0.5 || p_C(real) - p_C(synth) ||_1`` where ``p_C`` is the
normalised histogram over the schema's codes. Evaluation reads the real data
without noise: it is for the data curator, not for release.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..marginals.counting import count
from ..schema import Schema
from ..schema.codec import encode
from ..schema.dataset import Dataset

__all__ = ["all_marginals", "marginal_tv", "workload_error", "workload_error_codes"]


def all_marginals(names: Sequence[str], k: int) -> list[tuple[str, ...]]:
    """Every ``k``-way marginal over ``names``, in lexicographic order of positions.

    Examples
    --------
    >>> all_marginals(["a", "b", "c"], 2)
    [('a', 'b'), ('a', 'c'), ('b', 'c')]
    """
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return list(itertools.combinations(names, min(k, len(names))))


def marginal_tv(real: Dataset, synth: Dataset, cols: Sequence[str]) -> float:
    """Total variation distance ``0.5 || p - q ||_1`` between two normalised marginals.

    Examples
    --------
    >>> real = Dataset({"a": np.array([0, 0, 1, 1])}, {"a": 2})
    >>> synth = Dataset({"a": np.array([0, 0, 0, 1])}, {"a": 2})
    >>> marginal_tv(real, synth, ["a"])
    0.25
    """
    p = count(real, cols).ravel().astype(np.float64)
    q = count(synth, cols).ravel().astype(np.float64)
    p /= max(p.sum(), 1.0)
    q /= max(q.sum(), 1.0)
    return 0.5 * float(np.abs(p - q).sum())


def workload_error_codes(
    real: Dataset, synth: Dataset, k: int = 3, workload: Sequence[Sequence[str]] | None = None
) -> float:
    """Workload error on already-encoded tables (see module docstring).

    Examples
    --------
    >>> real = Dataset({"a": np.array([0, 1, 1, 0]), "b": np.array([0, 1, 0, 1])}, {"a": 2, "b": 2})
    >>> flipped = Dataset({"a": np.array([0, 1, 1, 0]), "b": np.array([1, 0, 0, 1])}, {"a": 2, "b": 2})
    >>> workload_error_codes(real, real, k=2), workload_error_codes(real, flipped, k=2)
    (0.0, 0.5)
    """
    cliques = list(workload) if workload is not None else all_marginals(real.names, k)
    return float(np.mean([marginal_tv(real, synth, cl) for cl in cliques]))


def workload_error(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    schema: Schema,
    k: int = 3,
    workload: Sequence[Sequence[str]] | None = None,
) -> float:
    """Mean total variation over all ``k``-way marginals (or a given ``workload``).

    Parameters
    ----------
    real, synth : DataFrame
        Tables with the schema's columns; both are encoded with ``schema``.
    schema : Schema
        A complete schema (for example ``synthesizer.schema_``).
    k : int, default 3
        Marginal order: 1, 2 or 3 are the usual choices.
    workload : list of column tuples, optional
        Overrides ``k``.

    Returns
    -------
    float
        Between 0 (identical marginals) and 1.

    Examples
    --------
    >>> import pandas as pd
    >>> s = Schema.from_domain({"a": 2, "b": 2})
    >>> df = pd.DataFrame({"a": [0, 1, 1, 0], "b": [0, 1, 0, 1]})
    >>> workload_error(df, df, s, k=2)
    0.0
    """
    return workload_error_codes(encode(real, schema).data, encode(synth, schema).data, k, workload)
