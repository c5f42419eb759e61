"""Records as points: numeric columns scaled to [0, 1], categorical columns one-hot.

The space of the membership-inference score (nearest-neighbour distances);
train-on-synthetic test-on-real gives its model one input per column instead
(:func:`.utility.model_inputs`). With the L1 metric the distance is
Gower's (1971) dissimilarity times the number of columns: a numeric column contributes
``|x - y| / range``, a categorical one 1 when the labels differ (two one-hot entries of
0.5 each). Missing values get an indicator and count as a difference of 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..schema import NumericColumn, Schema
from .columns import as_labels, as_numbers

__all__ = ["record_features"]


def record_features(frame: pd.DataFrame, schema: Schema, columns: Sequence[str] | None = None) -> np.ndarray:
    """``(n, d)`` float matrix of ``frame``'s ``columns`` (default: all of the schema's).

    Examples
    --------
    >>> from dpquilt.evaluation.columns import evaluation_schema
    >>> df = pd.DataFrame({"x": [0.0, 2.0, None], "c": ["a", "b", "a"]})
    >>> record_features(df, evaluation_schema(df)).tolist()  # x, x missing, c=a, c=b, c missing, c other
    [[0.0, 0.0, 0.5, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 1.0, 0.5, 0.0, 0.0, 0.0]]
    """
    blocks = []
    for name in columns if columns is not None else schema.names:
        spec, col = schema[name], frame[name]
        if isinstance(spec, NumericColumn):
            lo, hi = spec.clip_range
            values = as_numbers(col)
            missing = np.isnan(values)
            scaled = np.where(missing, 0.0, (np.clip(values, lo, hi) - lo) / max(hi - lo, 1e-12))
            blocks += [scaled[:, None], missing[:, None].astype(np.float64)]
        else:
            known = [str(c) for c in spec.categories] + ["<missing>"]
            labels = as_labels(col).to_numpy()
            one_hot = (labels[:, None] == np.asarray(known, dtype=object)[None, :]).astype(np.float64)
            other = 1.0 - one_hot.sum(axis=1, keepdims=True)  # labels outside the public list
            blocks.append(0.5 * np.concatenate([one_hot, other], axis=1))
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(frame), 0))
