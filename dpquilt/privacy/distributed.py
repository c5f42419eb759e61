"""The distributed discrete Gaussian: each of several parties adds its own share of noise.

In federated measurement every client adds discrete Gaussian noise of variance
``sigma^2 / t`` to its integer vector and only the sum is revealed (secure
aggregation). With at least ``t`` honest contributors the sum carries noise of variance
at least ``sigma^2``. A sum of discrete Gaussians is not itself a discrete Gaussian, so
the cost is taken from Kairouz, Liu and Steinke, "The Distributed Discrete Gaussian
Mechanism for Federated Learning with Secure Aggregation", ICML 2021, Theorem 2:
for ``t`` i.i.d. shares ``N_Z(0, s^2)`` per coordinate (``s >= 1/2``) and a change
``Delta`` of the summed vector,

    eps = min( sqrt(||Delta||_2^2 / (t s^2) + tau d / 2),  ||Delta||_2 / (sqrt(t) s) + tau ||Delta||_1 ),
    tau = 10 sum_{k=1}^{t-1} exp(-2 pi^2 s^2 k / (k + 1)),

and the sum is ``eps^2 / 2``-zCDP. For shares ``s >= 2`` the ``tau`` terms are below
``1e-15`` relative, so the cost is the central Gaussian's to all printed digits; near
``s = 1`` they add a fraction of a percent.
"""

from __future__ import annotations

import math

__all__ = ["party_sigma", "rho_of_distributed_discrete_gaussian", "sigma_for_distributed_rho", "tau_of_sum"]

#: Kairouz, Liu and Steinke (2021) Theorem 2 needs each party's scale to be at least this.
MIN_PARTY_SIGMA = 0.5


def party_sigma(sigma: float, honest_parties: int) -> float:
    """Each party's noise scale so that ``honest_parties`` shares sum to variance ``sigma^2``.

    Examples
    --------
    >>> party_sigma(6.0, 4)
    3.0
    """
    if honest_parties < 1:
        raise ValueError(f"honest_parties must be >= 1, got {honest_parties!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    return sigma / math.sqrt(honest_parties)


def tau_of_sum(sigma_party: float, parties: int) -> float:
    """``tau = 10 sum_{k=1}^{n-1} exp(-2 pi^2 s^2 k/(k+1))`` of [KLS21] Theorem 2.

    Examples
    --------
    >>> tau_of_sum(2.0, 10) < 1e-15  # shares of scale >= 2: the sum costs what the central Gaussian does
    True
    """
    return 10.0 * sum(math.exp(-2.0 * math.pi**2 * sigma_party**2 * k / (k + 1)) for k in range(1, parties))


def rho_of_distributed_discrete_gaussian(
    sigma_party: float, parties: int, l2_sensitivity: float, l1_sensitivity: float, dimension: int
) -> float:
    """zCDP cost of the sum of ``parties`` discrete Gaussian shares of scale ``sigma_party``.

    [KLS21] Theorem 2 (see the module docstring). With one party this is the
    discrete Gaussian's ``Delta_2^2 / (2 s^2)`` exactly ([CKS20] Theorem 4).

    Parameters
    ----------
    sigma_party : float
        Scale of each party's share, ``>= 1/2``.
    parties : int
        Number of honest shares in the sum.
    l2_sensitivity, l1_sensitivity : float
        Norms of the largest change of the summed integer vector when one row is
        added or removed.
    dimension : int
        Length of the vector.

    Examples
    --------
    >>> round(rho_of_distributed_discrete_gaussian(10.0, 4, 1.0, 1.0, 100), 8)
    0.00125
    """
    if parties < 1:
        raise ValueError(f"parties must be >= 1, got {parties!r}")
    if sigma_party < MIN_PARTY_SIGMA:
        raise ValueError(
            f"each party's noise scale must be >= {MIN_PARTY_SIGMA} for the distributed discrete Gaussian bound, "
            f"got {sigma_party!r}; spend less per measurement or tolerate fewer dropouts"
        )
    tau = tau_of_sum(sigma_party, parties)
    variance = parties * sigma_party**2
    eps = min(
        math.sqrt(l2_sensitivity**2 / variance + 0.5 * tau * dimension),
        l2_sensitivity / math.sqrt(variance) + tau * l1_sensitivity,
    )
    return 0.5 * eps**2


def sigma_for_distributed_rho(
    rho: float, parties: int, l2_sensitivity: float, l1_sensitivity: float, dimension: int
) -> float:
    """The smallest total scale ``sigma`` whose distributed cost is at most ``rho``.

    Starts from the central Gaussian's ``Delta_2 / sqrt(2 rho)`` and grows it until
    :func:`rho_of_distributed_discrete_gaussian` (with each party at
    ``sigma / sqrt(parties)``) is within ``rho``.

    Examples
    --------
    >>> round(sigma_for_distributed_rho(0.005, 3, 1.0, 1.0, 10), 6)
    10.0
    """
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho!r}")
    sigma = max(l2_sensitivity / math.sqrt(2.0 * rho), MIN_PARTY_SIGMA * math.sqrt(parties))

    def cost(s: float) -> float:
        return rho_of_distributed_discrete_gaussian(s / math.sqrt(parties), parties, l2_sensitivity, l1_sensitivity, dimension)

    if cost(sigma) <= rho:
        return sigma
    lo, hi, grow = sigma, sigma, 1e-9
    while cost(hi) > rho:
        lo, hi, grow = hi, sigma * (1.0 + grow), grow * 4.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if cost(mid) <= rho else (mid, hi)
    return hi
