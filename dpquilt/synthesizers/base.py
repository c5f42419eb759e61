"""What every synthesizer shares, in the scikit-learn manner: parameters, fitted checks, the privacy report.

:class:`Synthesizer` follows scikit-learn's estimator conventions: every parameter is a
keyword of ``__init__``, stored unchanged under its own name and checked only in
``fit``; what ``fit`` learns ends in ``_``. So ``get_params``/``set_params`` read and
write the parameters, ``sklearn.base.clone`` and :func:`clone_with` rebuild an unfitted
copy, and ``compare()`` refits one at other budgets and seeds.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import pandas as pd

from ..privacy.accountant import Accountant, PrivacyReport
from ..privacy.randomness import Randomness
from ..schema.column_types import validate_frame

__all__ = ["NotFittedError", "Synthesizer", "check_fitted", "clone_with", "sample_size"]


class NotFittedError(RuntimeError):
    """``sample`` or ``privacy_report`` was called before ``fit``."""


def check_fitted(estimator: object, attribute: str, what: str) -> None:
    """Raise :class:`NotFittedError` naming the call when ``estimator`` lacks ``attribute``.

    Examples
    --------
    >>> class Model:
    ...     pass
    >>> check_fitted(Model(), "model_", "sample")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    NotFittedError: Model is not fitted yet; call fit(df) before sample()
    """
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"this {type(estimator).__name__} is not fitted yet; call fit(df) before {what}()")


def sample_size(n_samples: int | None, released_rows: float) -> int:
    """``n_samples``, checked, or the released (noisy) row count when it is ``None``.

    Examples
    --------
    >>> sample_size(None, 41.6), sample_size(3, 41.6)
    (42, 3)
    >>> sample_size(None, float("nan"))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: this fit released no row count ...; pass n_samples, e.g. sample(1000)
    """
    if n_samples is None:
        if math.isnan(released_rows):
            raise ValueError("this fit released no row count (client-level DP-FedAvg bounds no client's rows); "
                             "pass n_samples, e.g. sample(1000)")
        return int(round(released_rows))
    if not (isinstance(n_samples, (int, np.integer)) and not isinstance(n_samples, bool) and n_samples >= 0):
        raise ValueError(f"n_samples must be a non-negative integer, got {n_samples!r}")
    return int(n_samples)


class Synthesizer:
    """Base of dpquilt's synthesizers: scikit-learn's parameter protocol and the privacy report.

    Subclasses take their parameters as keywords of ``__init__``, store each unchanged
    under its own name, and set ``accountant_`` and ``notes_`` in ``fit``; they name the
    attribute whose presence means "fitted" in ``_fitted_attribute``.

    Examples
    --------
    >>> from dpquilt import MarginalSynthesizer
    >>> syn = MarginalSynthesizer(epsilon=2.0, method="aim")
    >>> syn
    MarginalSynthesizer(epsilon=2.0, method='aim')
    >>> syn.set_params(epsilon=3.0).get_params()["epsilon"]
    3.0
    >>> syn.privacy_report()  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    NotFittedError: this MarginalSynthesizer is not fitted yet; call fit(df) before privacy_report()
    """

    #: the attribute ``fit`` sets last: its presence means the estimator is fitted
    _fitted_attribute = "accountant_"
    epsilon: float
    delta: float
    random_state: int | np.random.Generator | None
    accountant_: Accountant
    notes_: tuple[str, ...]

    @classmethod
    def _param_names(cls) -> list[str]:
        """The keywords of ``__init__``, in order (scikit-learn's ``_get_param_names``)."""
        params = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters, by name (``deep``: also ``name__sub`` of parameters that
        have parameters of their own)."""
        out = {name: getattr(self, name) for name in self._param_names()}
        if deep:
            for name, value in list(out.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    out.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
        return out

    def set_params(self, **params: Any) -> Synthesizer:
        """Set parameters by name; checked, like all parameters, when ``fit`` runs.

        Raises
        ------
        ValueError
            For a name ``__init__`` does not take.
        """
        names = self._param_names()
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(f"{type(self).__name__} takes no parameter(s) {unknown}; it takes {names}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        """The class and the parameters that differ from their defaults, as scikit-learn prints them."""
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name, value in self.get_params(deep=False).items():
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = value is default or bool(value == default)
            except (TypeError, ValueError):  # arrays and the like compare element-wise
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def check_params(self) -> None:
        """Raise ``ValueError`` naming the fix for any parameter ``fit`` would refuse (``fit``
        calls it first; a federated run calls it before it starts any process). Subclasses
        override it with their checks."""

    def _own_accountant(self, randomness: Randomness | None = None) -> Accountant:
        """A fresh accountant of this estimator's budget (``epsilon``, ``delta``); seeded when
        the fit's randomness is (reported as not for release)."""
        randomness = Randomness.of(self.random_state) if randomness is None else randomness
        return Accountant(self.epsilon, self.delta, secure=randomness.secure)

    def _fit_prologue(self, df: pd.DataFrame) -> tuple[pd.DataFrame, Randomness, Accountant]:
        """What every ``fit`` starts with: checked parameters, the validated frame, the fit's
        one :class:`~dpquilt.privacy.randomness.Randomness` (from ``random_state``) and its
        one accountant."""
        self.check_params()
        randomness = Randomness.of(self.random_state)
        return validate_frame(df), randomness, self._own_accountant(randomness)

    def _check_fitted(self, what: str) -> None:
        check_fitted(self, self._fitted_attribute, what)

    def sample_to_parquet(
        self,
        path: Any,
        n_samples: int,
        partitions: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> list:
        """Write ``n_samples`` synthetic rows as partitioned Parquet files ``path/part-NNNNN.parquet``.

        For more rows than one process holds: each partition is sampled with its own
        generator spawned from ``random_state`` and written by its own task (Dask's
        current client or local threads when Dask is installed). Post-processing: it
        spends no budget. See :func:`~dpquilt.synthesizers.partitioned_sampling.sample_to_parquet`.

        Examples
        --------
        >>> import tempfile
        >>> from dpquilt import MarginalSynthesizer
        >>> df = pd.DataFrame({"a": ["x", "y"] * 200})
        >>> syn = MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False,
        ...                           schema={"a": {"categories": ["x", "y"]}}).fit(df)
        >>> len(syn.sample_to_parquet(tempfile.mkdtemp(), 10_000, partitions=4, random_state=0))
        4
        """
        from .partitioned_sampling import sample_to_parquet

        self._check_fitted("sample_to_parquet")
        return sample_to_parquet(self, path, n_samples, partitions, random_state)

    def privacy_report(self) -> PrivacyReport:
        """Every expenditure of the fit (what, mechanism, noise scale, cost) and the totals.

        Holds only DP outputs and public facts; the curator's diagnostics stay in
        ``curator_notes_``.
        """
        self._check_fitted("privacy_report")
        return self.accountant_.report(notes=self.notes_)


def clone_with(estimator: Any, **overrides: Any) -> Any:
    """A new, unfitted estimator with ``estimator``'s parameters and ``overrides``.

    Like scikit-learn's ``clone`` followed by ``set_params``, for any estimator with
    ``get_params``.

    Examples
    --------
    >>> from dpquilt import MarginalSynthesizer
    >>> clone_with(MarginalSynthesizer(epsilon=1.0, method="aim"), epsilon=3.0).method
    'aim'
    """
    params = estimator.get_params(deep=False)
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(f"{type(estimator).__name__} takes no parameter(s) {unknown}; it takes {list(params)}")
    return type(estimator)(**{**params, **overrides})
