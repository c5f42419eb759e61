"""The mechanisms: each declares its sensitivity and cost, spends, then draws noise.

Every function here takes the :class:`~dpquilt.privacy.accountant.Accountant` and a
:class:`~dpquilt.privacy.noise.NoiseSource`, records one ledger entry and returns the
noisy answer. The cost of each is also exposed as a pure function so that plans
can be made (and tested) without touching data.

Sensitivities are for the add/remove-one-row neighbouring relation.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

import numpy as np

from .accountant import Accountant, Expenditure
from .conversions import (
    epsilon_of_exponential_mechanism,
    rho_of_exponential_mechanism,
    rho_of_gaussian,
)
from .distributed import party_sigma, rho_of_distributed_discrete_gaussian
from .noise import NoiseSource

__all__ = [
    "COUNT_SENSITIVITY",
    "sigma_for_rho",
    "gaussian_counts",
    "gaussian_counts_expenditure",
    "spend_distributed_gaussian",
    "exponential_mechanism",
    "exponential_mechanism_epsilon_for_rho",
    "private_quantile",
    "private_quantile_of_ranks",
    "discrete_gaussian_tail",
    "threshold_for_delta",
    "thresholded_counts",
]

#: L2 (and L1) sensitivity of a histogram of one table's rows: adding or removing a
#: row changes exactly one cell by one.
COUNT_SENSITIVITY = 1.0


def sigma_for_rho(rho: float, l2_sensitivity: float = COUNT_SENSITIVITY) -> float:
    """Noise scale of the Gaussian mechanism with cost ``rho``: ``sigma = Delta / sqrt(2 rho)``.

    Examples
    --------
    >>> sigma_for_rho(0.005)
    10.0
    """
    if not rho > 0:
        raise ValueError(f"rho must be > 0 to size Gaussian noise, got {rho!r}")
    return l2_sensitivity / math.sqrt(2.0 * rho)


def gaussian_counts(
    counts: np.ndarray,
    sigma: float,
    what: str,
    accountant: Accountant,
    noise: NoiseSource,
) -> np.ndarray:
    """Release a histogram with discrete Gaussian noise ([CKS20] Theorem 4).

    Sensitivity: :data:`COUNT_SENSITIVITY` (one row moves one cell by one), so the
    cost is ``rho = 1 / (2 sigma^2)``.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> acc, noise = Accountant(1.0, 1e-9, secure=False), SeededNoise(np.random.default_rng(0))
    >>> noisy = gaussian_counts(np.array([120, 30, 0]), 10.0, "marginal ('a',)", acc, noise)
    >>> noisy.shape, acc.rho_spent
    ((3,), 0.005)
    """
    accountant.spend(gaussian_counts_expenditure(what, sigma))
    return noise.discrete_gaussian(np.asarray(counts, dtype=np.int64), sigma)


def gaussian_counts_expenditure(what: str, sigma: float) -> Expenditure:
    """The ledger line of :func:`gaussian_counts` (also used to replay a persisted ledger).

    Examples
    --------
    >>> gaussian_counts_expenditure("marginal ('a',)", 10.0).rho
    0.005
    """
    return Expenditure(what, "discrete Gaussian", float(sigma), rho_of_gaussian(sigma, COUNT_SENSITIVITY))


def spend_distributed_gaussian(
    what: str,
    sigma: float,
    honest_parties: int,
    accountant: Accountant,
    l2_sensitivity: float = COUNT_SENSITIVITY,
    l1_sensitivity: float = COUNT_SENSITIVITY,
    dimension: int = 1,
) -> None:
    """Record a release whose noise is the sum of ``honest_parties`` discrete Gaussian shares.

    Each party adds ``N_Z(0, sigma^2 / honest_parties)``; the cost is
    :func:`~dpquilt.privacy.distributed.rho_of_distributed_discrete_gaussian`
    (Kairouz, Liu and Steinke 2021, Theorem 2). The noise itself is drawn by the
    parties, so this only spends.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant
    >>> acc = Accountant(1.0, 1e-9)
    >>> spend_distributed_gaussian("marginal ('a',)", 10.0, honest_parties=4, accountant=acc)
    >>> round(acc.rho_spent, 6)  # equal to the central Gaussian's 1 / (2 sigma^2) when shares are >= 2
    0.005
    """
    share = party_sigma(sigma, honest_parties)
    rho = rho_of_distributed_discrete_gaussian(share, honest_parties, l2_sensitivity, l1_sensitivity, dimension)
    accountant.spend(
        Expenditure(
            what, f"distributed discrete Gaussian ({honest_parties} honest shares)", float(sigma), rho,
            sensitivity=l2_sensitivity,
        )
    )


def exponential_mechanism_epsilon_for_rho(rho: float) -> float:
    """The epsilon of an exponential mechanism whose zCDP cost is ``rho`` (``sqrt(8 rho)``).

    Examples
    --------
    >>> exponential_mechanism_epsilon_for_rho(0.125)
    1.0
    """
    return math.sqrt(8.0 * rho)


def exponential_mechanism(
    scores: np.ndarray,
    sensitivity: float,
    epsilon: float,
    what: str,
    accountant: Accountant,
    noise: NoiseSource,
) -> int:
    """Select an index with probability proportional to ``exp(epsilon q_i / (2 Delta))``.

    McSherry and Talwar (2007), implemented as Gumbel report-noisy-max with scale
    ``2 Delta / epsilon``; ``epsilon``-DP and ``epsilon^2/8``-zCDP ([CR21] Lemma 3.2).
    ``sensitivity`` is the declared bound on how much any score moves when one row
    is added or removed.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> acc, noise = Accountant(1.0, 1e-9, secure=False), SeededNoise(np.random.default_rng(0))
    >>> exponential_mechanism(np.array([0.0, 500.0, 3.0]), 1.0, 0.1, "pick", acc, noise)
    1
    >>> round(acc.rho_spent, 10)  # epsilon^2 / 8
    0.00125
    """
    if not sensitivity > 0:
        raise ValueError(f"sensitivity must be > 0, got {sensitivity!r}")
    scale = 2.0 * sensitivity / epsilon
    assert math.isclose(epsilon_of_exponential_mechanism(scale, sensitivity), epsilon)
    accountant.spend(
        Expenditure(
            what, "exponential mechanism", scale, rho_of_exponential_mechanism(epsilon), sensitivity=sensitivity
        )
    )
    return noise.gumbel_argmax(np.asarray(scores, dtype=np.float64), scale)


def quantile_scores(sorted_values: np.ndarray, candidates: np.ndarray, alpha: float) -> np.ndarray:
    """Utility of each candidate as the alpha-quantile: ``-| #{x < c} - alpha n |`` (Smith 2011).

    Adding or removing one row moves ``#{x < c}`` by at most 1 and ``alpha n`` by
    ``alpha``, in opposite-or-same directions, so the score's sensitivity is
    ``max(alpha, 1 - alpha) <= 1``.

    Examples
    --------
    >>> quantile_scores(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 2.5, 5.0]), 0.5) + 0.0
    array([-2.,  0., -2.])
    """
    return _rank_scores(np.searchsorted(sorted_values, candidates, side="left"), sorted_values.size, alpha)


def _rank_scores(below: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """``-| below - alpha n |``: each candidate's score from how many of ``n`` values lie below it."""
    return -np.abs(np.asarray(below, dtype=np.float64) - alpha * n)


def private_quantile(
    values: np.ndarray,
    candidates: np.ndarray,
    alpha: float,
    epsilon: float,
    what: str,
    accountant: Accountant,
    noise: NoiseSource,
) -> float:
    """An epsilon-DP alpha-quantile chosen among data-independent ``candidates``.

    Exponential mechanism with the utility of :func:`quantile_scores`
    (Smith 2011, "Privacy-preserving statistical estimation with optimal
    convergence rates"); sensitivity 1.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> acc, noise = Accountant(1.0, 1e-9, secure=False), SeededNoise(np.random.default_rng(0))
    >>> values = np.random.default_rng(1).normal(50, 5, 10_000)
    >>> median = private_quantile(values, np.linspace(0, 100, 101), 0.5, 0.1, "median of x", acc, noise)
    >>> 48 <= median <= 52
    True
    """
    candidates = np.asarray(candidates, dtype=np.float64)
    values = np.sort(np.asarray(values, dtype=np.float64))
    below = np.searchsorted(values, candidates, side="left")
    return private_quantile_of_ranks(below, values.size, candidates, alpha, epsilon, what, accountant, noise)


def private_quantile_of_ranks(
    below: np.ndarray,
    n: int,
    candidates: np.ndarray,
    alpha: float,
    epsilon: float,
    what: str,
    accountant: Accountant,
    noise: NoiseSource,
) -> float:
    """:func:`private_quantile` from the counts it reads: ``below[i] = #{x < candidates[i]}`` of ``n`` values.

    These counts add up over parts of the rows, so a partitioned table is read in one
    pass per quantile grid (:mod:`dpquilt.rows`); the scores are those of
    :func:`quantile_scores`.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> acc, noise = Accountant(1.0, 1e-9, secure=False), SeededNoise(np.random.default_rng(0))
    >>> private_quantile_of_ranks(np.array([0, 500, 1000]), 1000, np.array([0.0, 1.0, 2.0]), 0.5, 0.1, "median", acc, noise)
    1.0
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    scores = _rank_scores(below, n, alpha)
    return float(np.asarray(candidates, dtype=np.float64)[exponential_mechanism(scores, 1.0, epsilon, what, accountant, noise)])


def discrete_gaussian_tail(sigma: float, k: int) -> float:
    """``P[Z >= k]`` for ``Z ~ N_Z(0, sigma^2)``, summed exactly over a wide support.

    Examples
    --------
    >>> round(discrete_gaussian_tail(10.0, 0), 3)  # half the mass and the atom at 0
    0.52
    """
    width = int(math.ceil(40 * sigma)) + 50
    support = np.arange(-width, width + 1, dtype=np.float64)
    log_w = -(support**2) / (2.0 * sigma**2)
    w = np.exp(log_w - log_w.max())
    return float(w[support >= k].sum() / w.sum())


def threshold_for_delta(sigma: float, delta: float) -> int:
    """Smallest integer threshold ``T`` with ``P[1 + Z >= T] <= delta``.

    A category present in only one of two neighbouring tables has true count 1;
    releasing it only when its noisy count reaches ``T`` fails with probability
    ``P[Z >= T - 1]``, the delta of the thresholded histogram.

    Examples
    --------
    >>> t = threshold_for_delta(10.0, 1e-9)
    >>> discrete_gaussian_tail(10.0, t - 1) <= 1e-9 < discrete_gaussian_tail(10.0, t - 2)
    True
    """
    t = 1 + int(math.ceil(sigma))
    while discrete_gaussian_tail(sigma, t - 1) > delta:
        t += 1 + int(sigma // 4)
    while t > 2 and discrete_gaussian_tail(sigma, t - 2) <= delta:
        t -= 1
    return t


def thresholded_counts(
    counts: Mapping[Hashable, int],
    sigma: float,
    delta: float,
    what: str,
    accountant: Accountant,
    noise: NoiseSource,
    known: Mapping[Hashable, int] | None = None,
) -> dict[Hashable, int]:
    """Release the keys (and noisy counts) whose noisy count reaches a threshold.

    The stability histogram over an unknown domain (Korolova et al. 2009; with
    Gaussian noise, Rogers 2023, arXiv:2309.09170): each present key gets discrete
    Gaussian noise; keys under ``T = threshold_for_delta(sigma, delta)`` are dropped.
    Keys absent from the data are never released. One row touches one key, so the
    mechanism is ``(1 / (2 sigma^2), delta)``-approximate zCDP.

    ``known`` keys belong to a public domain (such as "missing"): their noisy counts
    are released whatever they are, zero counts included, as a plain Gaussian
    histogram would. A row touches one key of ``counts`` and ``known`` together, so
    the sensitivity and the cost stay the same; the threshold's delta covers only the
    keys of ``counts``.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> acc, noise = Accountant(1.0, 1e-9, secure=False), SeededNoise(np.random.default_rng(0))
    >>> released = thresholded_counts({"common": 5000, "rare": 1}, 10.0, 1e-10, "categories of x", acc, noise)
    >>> sorted(released)  # a key held by one row is dropped
    ['common']
    >>> sorted(thresholded_counts({"common": 5000}, 10.0, 1e-10, "categories of y", acc, noise, known={"missing": 0}))
    ['common', 'missing']
    """
    threshold = threshold_for_delta(sigma, delta)
    accountant.spend(
        Expenditure(
            what, f"thresholded discrete Gaussian (T={threshold})", float(sigma), rho_of_gaussian(sigma), delta
        )
    )
    known = dict(known or {})
    overlap = set(known) & set(counts)
    if overlap:
        raise ValueError(f"keys {sorted(map(str, overlap))} are both known and learned; pass each once")
    keys = list(counts) + list(known)
    values = list(counts.values()) + list(known.values())
    noisy = noise.discrete_gaussian(np.array(values, dtype=np.int64), sigma)
    return {k: int(c) for k, c in zip(keys, noisy) if k in known or c >= threshold}
