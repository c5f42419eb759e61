"""Conversions between zero-concentrated DP (zCDP) and (epsilon, delta)-DP.

All functions are pure. The privacy unit everywhere in dpquilt is one row added or
removed (unbounded neighbouring datasets).

References
----------
.. [BS16] Bun and Steinke, "Concentrated Differential Privacy: Simplifications,
   Extensions, and Lower Bounds", TCC 2016, arXiv:1605.02065.
.. [CKS20] Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential
   Privacy", NeurIPS 2020, arXiv:2004.00010.
.. [CR21] Cesar and Rogers, "Bounding, Concentrating, and Truncating: Unifying
   Privacy Loss Composition for Data Analytics", ALT 2021, arXiv:2004.07223.
.. [BBGHS20] Balle, Barthe, Gaboardi, Hsu and Sato, "Hypothesis Testing
   Interpretations and Renyi Differential Privacy", AISTATS 2020, arXiv:1905.09982.
"""

from __future__ import annotations

import functools
import math

__all__ = [
    "RDP_ORDERS",
    "delta_from_rho",
    "epsilon_from_rdp",
    "epsilon_from_rho",
    "epsilons_per_order",
    "rho_from_epsilon_delta",
    "rho_of_gaussian",
    "rho_of_exponential_mechanism",
    "epsilon_of_exponential_mechanism",
]

_BISECTION_STEPS = 100

#: Renyi orders on which RDP curves are kept: Opacus's default grid (1.1 to 10.9 by 0.1,
#: then 12 to 63), so that DP-SGD curves compare one to one with Opacus's accountant.
RDP_ORDERS: tuple[float, ...] = tuple([1.0 + x / 10.0 for x in range(1, 100)] + [float(a) for a in range(12, 64)])


def delta_from_rho(rho: float, epsilon: float) -> float:
    """Smallest delta such that rho-zCDP implies (epsilon, delta)-DP.

    Uses Corollary 13 of [CKS20]::

        delta = min_{alpha > 1} exp((alpha - 1)(alpha rho - epsilon)
                                    + alpha log(1 - 1/alpha)) / (alpha - 1)

    The objective is minimised by bisection on its derivative in ``log`` form,
    ``(2 alpha - 1) rho - epsilon + log(1 - 1/alpha) = 0``. Any alpha gives a valid
    bound, so an inexact minimiser only makes delta larger (still sound).

    Examples
    --------
    >>> round(delta_from_rho(0.5, 4.0), 8)
    0.0001958
    """
    _check_nonneg("rho", rho)
    _check_nonneg("epsilon", epsilon)
    if rho == 0.0:
        return 0.0
    lo, hi = 1.0 + 1e-9, max(2.0, (epsilon + 1.0) / (2.0 * rho) + 2.0)
    for _ in range(_BISECTION_STEPS):
        alpha = 0.5 * (lo + hi)
        derivative = (2.0 * alpha - 1.0) * rho - epsilon + math.log1p(-1.0 / alpha)
        if derivative < 0:
            lo = alpha
        else:
            hi = alpha
    alpha = 0.5 * (lo + hi)
    log_delta = (alpha - 1.0) * (alpha * rho - epsilon) + alpha * math.log1p(-1.0 / alpha)
    log_delta -= math.log(alpha - 1.0)
    return min(1.0, math.exp(min(log_delta, 0.0)))


@functools.lru_cache(maxsize=4096)
def epsilon_from_rho(rho: float, delta: float) -> float:
    """Smallest epsilon such that rho-zCDP implies (epsilon, delta)-DP ([CKS20] Cor. 13).

    Never larger than the classic bound ``rho + 2 sqrt(rho log(1/delta))`` of [BS16]
    Proposition 1.3, which is used as the upper end of the bisection.

    Examples
    --------
    >>> round(epsilon_from_rho(0.014973, 1e-9), 4)
    1.0
    """
    _check_nonneg("rho", rho)
    _check_delta(delta)
    if rho == 0.0:
        return 0.0
    classic = rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))
    return _bisect(lambda eps: delta_from_rho(rho, eps) <= delta, 0.0, classic, want="smallest")


@functools.lru_cache(maxsize=4096)
def rho_from_epsilon_delta(epsilon: float, delta: float) -> float:
    """Largest rho such that rho-zCDP implies (epsilon, delta)-DP ([CKS20] Cor. 13).

    Examples
    --------
    >>> round(rho_from_epsilon_delta(1.0, 1e-9), 6)
    0.014973
    """
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}; pass a positive budget such as epsilon=1.0")
    _check_delta(delta)
    return _bisect(lambda rho: delta_from_rho(rho, epsilon) <= delta, 0.0, epsilon + 1.0, want="largest")


def epsilon_from_rdp(rdp, delta: float, orders=RDP_ORDERS) -> float:
    """Smallest epsilon such that an RDP curve implies (epsilon, delta)-DP on ``orders``.

    ``epsilon = min_alpha R(alpha) + log((alpha - 1) / alpha) - (log delta + log alpha) / (alpha - 1)``
    ([BBGHS20] Theorem 21; the same bound as [CKS20] Proposition 12, of which
    Corollary 13 is the zCDP case ``R(alpha) = rho alpha``). This is what Opacus's
    ``get_privacy_spent`` computes.

    Examples
    --------
    >>> round(epsilon_from_rdp([0.5 * a for a in RDP_ORDERS], 1e-5), 3)  # 0.5-zCDP
    4.729
    """
    return max(0.0, min(epsilons_per_order(rdp, delta, orders), default=math.inf))


def epsilons_per_order(rdp, delta: float, orders=RDP_ORDERS) -> list[float]:
    """The bound of :func:`epsilon_from_rdp` at each order (``inf`` at orders <= 1), before the minimum.

    Examples
    --------
    >>> [round(e, 3) for e in epsilons_per_order([1.0, 2.0], 1e-5, orders=[2.0, 4.0])]  # 1 + log(1/2) + log(1e5 / 2), ...)
    [11.127, 5.088]
    """
    _check_delta(delta)
    return [
        r + math.log1p(-1.0 / alpha) - (math.log(delta) + math.log(alpha)) / (alpha - 1.0) if alpha > 1 else math.inf
        for alpha, r in zip(orders, rdp)
    ]


def _bisect(ok, lo: float, hi: float, want: str) -> float:
    """The smallest (or largest) x in [lo, hi] with ``ok(x)``, for monotone ``ok``.

    Returns the end of the final bracket on the safe side, so the answer always
    satisfies ``ok`` (or is the bracket's end when nothing does).
    """
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if ok(mid) == (want == "smallest"):
            hi = mid
        else:
            lo = mid
    return hi if want == "smallest" else lo


def rho_of_gaussian(sigma: float, l2_sensitivity: float = 1.0) -> float:
    """zCDP cost of (discrete) Gaussian noise: ``rho = Delta_2^2 / (2 sigma^2)``.

    [BS16] Proposition 1.6 (continuous) and [CKS20] Theorem 4 (discrete).

    Examples
    --------
    >>> rho_of_gaussian(10.0), rho_of_gaussian(10.0, l2_sensitivity=2.0)
    (0.005, 0.02)
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    return l2_sensitivity**2 / (2.0 * sigma**2)


def epsilon_of_exponential_mechanism(scale: float, sensitivity: float) -> float:
    """Pure-DP epsilon of the exponential mechanism / Gumbel report-noisy-max.

    Selecting ``argmax_i q_i + Gumbel(scale)`` samples ``P(i) ~ exp(q_i / scale)``,
    the exponential mechanism with ``epsilon = 2 Delta / scale`` for scores whose
    sensitivity is ``Delta`` (McSherry and Talwar 2007).

    Examples
    --------
    >>> epsilon_of_exponential_mechanism(scale=4.0, sensitivity=1.0)
    0.5
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    return 2.0 * sensitivity / scale


def rho_of_exponential_mechanism(epsilon: float) -> float:
    """zCDP cost of an epsilon-DP exponential mechanism: ``rho = epsilon^2 / 8``.

    The exponential mechanism is epsilon-bounded-range, which implies
    ``epsilon^2/8``-zCDP ([CR21] Lemma 3.2).

    Examples
    --------
    >>> rho_of_exponential_mechanism(1.0)
    0.125
    """
    _check_nonneg("epsilon", epsilon)
    return epsilon**2 / 8.0


def _check_nonneg(name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def _check_delta(delta: float) -> None:
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}; a common choice is delta=1e-9 or 1/n^2")
