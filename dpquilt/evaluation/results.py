"""The long table :func:`~dpquilt.evaluation.compare.compare` returns and its figures read.

One row per method, epsilon, seed and metric: columns ``method``, ``epsilon``, ``seed``,
``metric``, ``value`` and ``fit_seconds``. The real holdout table appears as the method
:data:`HOLDOUT` with epsilon ``inf``: what real data scores on each metric.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

__all__ = ["HOLDOUT", "result_rows"]

HOLDOUT = "real holdout"


def result_rows(method: str, epsilon: float, seed: int, values: Mapping[str, float], seconds: float) -> pd.DataFrame:
    """The rows of one fit: one per metric in ``values``.

    Examples
    --------
    >>> result_rows("mst", 1.0, 0, {"workload_2": 0.1, "tstr": 0.8}, 0.5).metric.tolist()
    ['workload_2', 'tstr']
    """
    return pd.DataFrame({"method": method, "epsilon": epsilon, "seed": seed, "metric": list(values),
                         "value": list(values.values()), "fit_seconds": seconds})
