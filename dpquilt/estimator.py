"""What every synthesizer shares in the scikit-learn manner: fitted checks and sample sizes."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

__all__ = ["NotFittedError", "check_fitted", "clone_with", "sample_size"]


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
    """
    if n_samples is None:
        return int(round(released_rows))
    if not (isinstance(n_samples, (int, np.integer)) and not isinstance(n_samples, bool) and n_samples >= 0):
        raise ValueError(f"n_samples must be a non-negative integer, got {n_samples!r}")
    return int(n_samples)


def clone_with(estimator: Any, **overrides: Any) -> Any:
    """A new, unfitted estimator with ``estimator``'s constructor parameters and ``overrides``.

    Like scikit-learn's ``clone``: the constructor's parameters are read back from the
    attributes of the same names (our synthesizers store them unchanged).

    Examples
    --------
    >>> from dpquilt import MarginalSynthesizer
    >>> clone_with(MarginalSynthesizer(epsilon=1.0, method="aim"), epsilon=3.0).method
    'aim'
    """
    names = [p for p in inspect.signature(type(estimator).__init__).parameters if p != "self"]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(f"{type(estimator).__name__} takes no parameter(s) {unknown}; it takes {names}")
    params = {name: getattr(estimator, name) for name in names if hasattr(estimator, name)}
    return type(estimator)(**{**params, **overrides})
