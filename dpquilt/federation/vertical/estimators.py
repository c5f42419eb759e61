"""Cross-silo synthesis as an estimator of one joined table, for ``compare()`` and notebooks.

:class:`CrossSiloMST` deals a table's columns to silos as ``silos`` says and fits with
:func:`~dpquilt.federation.vertical.simulate` (every party its own process, the silos'
rows lined up by row number, a public key list): the same release as silos that never
pooled their columns, measured against central methods on the same table and budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...privacy.accountant import PrivacyReport
from ...schema import Schema
from ...synthesizers.base import Synthesizer, check_fitted

__all__ = ["CrossSiloMST", "split_columns"]

log = logging.getLogger(__name__)

#: the key column the estimators add to every silo's part (row numbers: a public list)
ROW_KEY = "__row__"


def split_columns(df: pd.DataFrame, silos: Sequence[Sequence[str]]) -> dict[str, pd.DataFrame]:
    """``df``'s columns dealt to silos (``silo1``, ``silo2``, ...), each part keyed by row number.

    Raises ``ValueError`` naming the column that no silo or two silos hold.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2], "b": [3, 4], "c": [5, 6]})
    >>> parts = split_columns(df, [["a", "c"], ["b"]])
    >>> {name: list(part.columns) for name, part in parts.items()}
    {'silo1': ['__row__', 'a', 'c'], 'silo2': ['__row__', 'b']}
    """
    held = [c for cols in silos for c in cols]
    twice = sorted({c for c in held if held.count(c) > 1})
    if twice:
        raise ValueError(f"column(s) {twice} are given to two silos; give each column to one silo")
    unknown = [c for c in held if c not in df.columns]
    if unknown:
        raise ValueError(f"silos name column(s) {unknown} that the table lacks; its columns are {list(df.columns)}")
    left = [c for c in df.columns if c not in held]
    if left:
        raise ValueError(f"column(s) {left} are in no silo; give every column to one silo (or drop it first)")
    rows = np.arange(len(df))
    return {f"silo{i + 1}": pd.concat([pd.Series(rows, name=ROW_KEY), df[list(cols)].reset_index(drop=True)], axis=1)
            for i, cols in enumerate(silos)}


class CrossSiloMST(Synthesizer):
    """MST over silos that hold different columns, fitted on one table split by columns.

    Parameters
    ----------
    silos : sequence of sequences of str
        The columns each silo holds (2 to 5 silos; every column in exactly one).
    epsilon, delta : float
        The whole fit's budget.
    schema : Schema or dict, optional
        Public facts of some or all columns; the rest each silo learns with DP.
    schema_share : float
        Budget share for that learning.
    random_state : int or None
        ``None``: secure noise; an int seeds every party (not for release).
    verbose : bool
        A bar of the budget spent; log when the parties start and how long the fit took.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"a": rng.choice(["x", "y"], 300), "b": rng.integers(0, 3, 300)})
    >>> syn = CrossSiloMST([["a"], ["b"]], epsilon=2.0, random_state=0).fit(df)
    >>> list(syn.sample(4).columns), syn.privacy_report().epsilon_spent <= 2.0
    (['a', 'b'], True)
    """

    _fitted_attribute = "synthesizer_"

    def __init__(
        self,
        silos: Sequence[Sequence[str]] = (),
        epsilon: float = 1.0,
        delta: float = 1e-9,
        schema: Schema | Mapping[str, Any] | None = None,
        schema_share: float = 0.1,
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.silos = silos
        self.epsilon = epsilon
        self.delta = delta
        self.schema = schema
        self.schema_share = schema_share
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, df: pd.DataFrame) -> CrossSiloMST:
        """Split ``df`` by columns into the silos and fit (see :func:`~dpquilt.federation.vertical.simulate`)."""
        from .simulation import simulate

        parts = split_columns(df, self.silos)
        start = time.perf_counter()
        if self.verbose:
            log.info("cross-silo MST: %d silos and a coordinator, each in its own process", len(parts))
        self.synthesizer_ = simulate(parts, ROW_KEY, np.arange(len(df)), self.schema, epsilon=self.epsilon,
                                     delta=self.delta, schema_share=self.schema_share, random_state=self.random_state,
                                     progress=self.verbose)
        if self.verbose:
            log.info("cross-silo MST fitted in %.1f s", time.perf_counter() - start)
        self.columns_ = list(df.columns)
        return self

    def sample(self, n_samples: int | None = None, random_state=None) -> pd.DataFrame:
        """Synthetic rows in the fitted table's column order (post-processing)."""
        check_fitted(self, "synthesizer_", "sample")
        return self.synthesizer_.sample(n_samples, random_state=random_state)[self.columns_]

    def privacy_report(self) -> PrivacyReport:
        """The fit's one ledger: every silo's and every cross-silo expenditure."""
        check_fitted(self, "synthesizer_", "privacy_report")
        return self.synthesizer_.privacy_report()
