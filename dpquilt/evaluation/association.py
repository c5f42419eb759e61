"""Association between categorical columns: Cramér's V, real against synthetic.

For each pair of categorical columns, Cramér's V of the contingency table (Cramér
1946, sec. 21.9: ``V = sqrt(chi2 / (n (min(r, c) - 1)))``, computed by
``scipy.stats.contingency.association``); the score is the mean absolute difference
between the real and the synthetic table's V over all pairs, the categorical
counterpart of :func:`.fidelity.correlation_difference`. Missing values are a category.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .columns import as_labels

__all__ = ["association_difference", "cramers_v"]


def cramers_v(frame: pd.DataFrame, a: str, b: str) -> float:
    """Cramér's V between columns ``a`` and ``b`` of ``frame`` (0 when either is constant).

    Examples
    --------
    >>> df = pd.DataFrame({"a": list("xxyy"), "b": list("uuvv")})
    >>> round(cramers_v(df, "a", "b"), 6)
    1.0
    """
    from scipy.stats.contingency import association

    table = pd.crosstab(as_labels(frame[a]), as_labels(frame[b])).to_numpy()
    if min(table.shape) < 2:
        return 0.0
    return float(association(table, method="cramer"))


def association_difference(real: pd.DataFrame, synthetic: pd.DataFrame, columns: Sequence[str]) -> float:
    """Mean ``|V_real(a, b) - V_synth(a, b)|`` over pairs of categorical ``columns``.

    Examples
    --------
    >>> real = pd.DataFrame({"a": list("xxyy"), "b": list("uuvv")})
    >>> synth = pd.DataFrame({"a": list("xyxy"), "b": list("uuvv")})
    >>> association_difference(real, synth, ["a", "b"])
    1.0
    """
    columns = list(columns)
    if len(columns) < 2:
        raise ValueError(f"association_difference needs at least two categorical columns, got {columns}")
    diffs = [abs(cramers_v(real, a, b) - cramers_v(synthetic, a, b)) for a, b in itertools.combinations(columns, 2)]
    return float(np.mean(diffs))
