"""Empirical privacy audits: lower bounds on epsilon from repeated runs on neighbouring inputs.

If a mechanism ``M`` is (epsilon, delta)-DP then for neighbouring inputs ``D, D'`` and
every set of outputs ``S``: ``P[M(D') in S] <= e^epsilon P[M(D) in S] + delta`` and the
same with ``D, D'`` swapped. Running ``M`` many times on each input and estimating both
probabilities for the sets ``S_t = {score > t}`` and ``{score <= t}`` gives, with
Clopper-Pearson intervals (upper bound on the false-positive rate, lower bound on the
true-positive rate), a high-confidence lower bound

    epsilon >= log((TPR_lo - delta) / FPR_hi)

(Jagielski, Ullman and Oprea, NeurIPS 2020, sec. 3; Nasr et al., IEEE S&P 2021). The
confidence is shared over all thresholds and both directions (Bonferroni), so the
maximum over them is a lower bound at the stated confidence. An audit fails when the
bound exceeds the claimed epsilon: the mechanism leaks more than it says.

:func:`canary_audit` runs a whole synthesizer (fit and sample) with and without a
canary record and scores each release by the canary's cells.

Black-box bounds of this kind need about ``e^epsilon`` times more trials than there are
to spare before they can exceed a claim: with tens of trials even a mechanism with a
tenth of its noise can pass. :func:`measurement_audit` is the white-box audit that can
fail: the released statistic is the canary's noisy cell itself, whose distribution
under the Gaussian mechanism is known, so the Gaussian-DP parameter
``mu = Delta / sigma`` (Dong, Roth and Su, JRSS-B 2022) of what was released can be
bounded from below and compared with the ``mu = sqrt(2 rho)`` the ledger paid for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "AuditResult",
    "MeasurementAudit",
    "canary_audit",
    "canary_cell_score",
    "canary_table",
    "epsilon_lower_bound",
    "gaussian_mu_lower_bound",
    "measurement_audit",
]


def epsilon_lower_bound(
    without: Sequence[float], with_: Sequence[float], delta: float, confidence: float = 0.95, thresholds: int = 19
) -> float:
    """Largest epsilon lower bound over threshold tests between two samples of a scalar score.

    Parameters
    ----------
    without, with_ : sequence of float
        Scores of the releases on ``D`` and on its neighbour ``D'``.
    delta : float
        The claim's delta.
    confidence : float
        Joint confidence of the bound.
    thresholds : int
        Thresholds tried (quantiles of the pooled scores, both directions each).

    Returns
    -------
    float
        0.0 when no test separates the samples.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(0, 1, 5000), rng.normal(2, 1, 5000)  # Gaussian mechanism, shift 2 sigma
    >>> 1.0 < epsilon_lower_bound(a, b, delta=1e-5) < 5.0
    True
    """
    from scipy.stats import beta

    a, b = np.asarray(without, dtype=np.float64), np.asarray(with_, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one score")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    tests = 2 * 2 * thresholds  # thresholds x directions x (which input plays D)
    alpha = (1 - confidence) / tests / 2  # two one-sided intervals per test
    best = 0.0
    pooled = np.concatenate([a, b])
    for t in np.unique(np.quantile(pooled, np.linspace(0.025, 0.975, thresholds))):
        for fp_sample, tp_sample in ((a, b), (b, a)):
            for above in (True, False):
                fp = int(np.sum(fp_sample > t)) if above else int(np.sum(fp_sample <= t))
                tp = int(np.sum(tp_sample > t)) if above else int(np.sum(tp_sample <= t))
                fpr_hi = 1.0 if fp == fp_sample.size else float(beta.ppf(1 - alpha, fp + 1, fp_sample.size - fp))
                tpr_lo = 0.0 if tp == 0 else float(beta.ppf(alpha, tp, tp_sample.size - tp + 1))
                if tpr_lo > delta and fpr_hi > 0:
                    best = max(best, math.log((tpr_lo - delta) / fpr_hi))
    return best


@dataclass(frozen=True)
class AuditResult:
    """An audit's outcome: the empirical lower bound next to the claim.

    Examples
    --------
    >>> AuditResult(1.0, 1e-6, 0.4, 1000, (), ()).passed
    True
    """

    claimed_epsilon: float
    delta: float
    epsilon_lower_bound: float
    trials: int
    scores_without: tuple[float, ...]
    scores_with: tuple[float, ...]

    @property
    def passed(self) -> bool:
        """The bound does not exceed the claim."""
        return self.epsilon_lower_bound <= self.claimed_epsilon


def canary_cell_score(canary: pd.Series) -> Callable[[pd.DataFrame], float]:
    """Score of a release: how many of its records share the canary's value, summed over columns.

    With a canary whose value in every column appears in no other record, this counts
    the release's mass on the canary's cells of every 1-way marginal (and so bounds its
    mass on the higher ones): the white-box statistic of the canary's cell counts.

    Examples
    --------
    >>> score = canary_cell_score(pd.Series({"a": 9, "b": 9}))
    >>> score(pd.DataFrame({"a": [9, 0, 9], "b": [0, 0, 9]}))
    3.0
    """
    values = canary.to_dict()

    def score(release: pd.DataFrame) -> float:
        return float(sum(int((release[c] == v).sum()) for c, v in values.items()))

    return score


def canary_audit(
    fit_sample: Callable[[pd.DataFrame, int], pd.DataFrame],
    base: pd.DataFrame,
    canary: pd.Series,
    claimed_epsilon: float,
    delta: float,
    trials: int,
    score: Callable[[pd.DataFrame], float] | None = None,
    confidence: float = 0.95,
    progress: bool = True,
) -> AuditResult:
    """Run ``fit_sample`` ``trials`` times on ``base`` and on ``base`` plus ``canary``; bound epsilon.

    Parameters
    ----------
    fit_sample : callable
        ``(table, seed) -> release``: fits a fresh synthesizer with the claimed budget
        and returns its sample (seeds make the audit reproducible; each trial gets its own).
    base : DataFrame
        The neighbour without the canary.
    canary : Series
        One record (index = columns).
    claimed_epsilon, delta : float
        The budget the synthesizer claims.
    trials : int
        Releases per side.
    score : callable, optional
        Statistic of a release (default :func:`canary_cell_score`).
    confidence : float
    progress : bool

    Returns
    -------
    AuditResult

    Examples
    --------
    A "synthesizer" that releases its input is caught at once:

    >>> base, canary, _ = canary_table(50, 2, 2, np.random.default_rng(0))
    >>> copy = lambda table, seed: table
    >>> canary_audit(copy, base, canary, claimed_epsilon=1.0, delta=1e-6, trials=50, progress=False).passed
    False
    """
    from tqdm.auto import tqdm

    if not (isinstance(trials, int) and trials >= 2):
        raise ValueError(f"trials must be an integer >= 2, got {trials!r}")
    score = score or canary_cell_score(canary)
    with_canary = pd.concat([base, canary.to_frame().T.astype(base.dtypes)], ignore_index=True)
    without, with_ = [], []
    for seed in tqdm(range(trials), desc="canary audit", unit="trial", disable=not progress):
        without.append(score(fit_sample(base, 2 * seed)))
        with_.append(score(fit_sample(with_canary, 2 * seed + 1)))
    bound = epsilon_lower_bound(without, with_, delta, confidence)
    return AuditResult(claimed_epsilon, delta, bound, trials, tuple(without), tuple(with_))


def canary_table(rows: int, columns: int, levels: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.Series, dict[str, int]]:
    """A table, a canary unique in every marginal, and the public domain of both.

    The table's ``columns`` integer columns take codes ``0 .. levels - 1`` along a noisy
    chain (each column copies the previous one with probability 0.6), so the marginals
    carry structure a synthesizer must measure; the canary takes code ``levels`` in every
    column, a code no other record has. The domain (``levels + 1`` codes per column) is
    public, so a synthesizer spends nothing on it.

    Examples
    --------
    >>> df, canary, domain = canary_table(100, 3, 2, np.random.default_rng(0))
    >>> df.shape, canary.tolist(), domain
    ((100, 3), [2, 2, 2], {'c0': 3, 'c1': 3, 'c2': 3})
    """
    names = [f"c{i}" for i in range(columns)]
    data = np.empty((rows, columns), dtype=np.int64)
    data[:, 0] = rng.integers(0, levels, rows)
    for j in range(1, columns):
        copy = rng.random(rows) < 0.6
        data[:, j] = np.where(copy, data[:, j - 1], rng.integers(0, levels, rows))
    table = pd.DataFrame(data, columns=names)
    return table, pd.Series({c: levels for c in names}, dtype=np.int64), {c: levels + 1 for c in names}


def gaussian_mu_lower_bound(without: Sequence[float], with_: Sequence[float], alpha: float = 1e-3) -> float:
    """A ``1 - alpha`` lower confidence bound on ``mu = (E[with] - E[without]) / sigma`` of a Gaussian release.

    For samples of ``N(m, sigma^2)`` and ``N(m + Delta, sigma^2)``: the pooled standard
    deviation ``s`` with ``k = n_1 + n_2 - 2`` degrees of freedom gives
    ``Delta_lo = mean difference - t_{1-alpha/2, k} s sqrt(1/n_1 + 1/n_2)`` and
    ``sigma_hi = s sqrt(k / chi2_{alpha/2, k})``; each fails with probability at most
    ``alpha / 2``, so ``max(Delta_lo, 0) / sigma_hi <= mu`` with probability at least
    ``1 - alpha``. In the Gaussian mechanism ``mu`` is the Gaussian-DP parameter.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(0, 2, 500), rng.normal(1, 2, 500)  # mu = 0.5
    >>> 0.2 < gaussian_mu_lower_bound(a, b) < 0.5  # 500 releases a side: within 0.25 of mu
    True
    """
    from scipy import stats

    a, b = np.asarray(without, dtype=np.float64), np.asarray(with_, dtype=np.float64)
    k = a.size + b.size - 2
    if a.size < 2 or b.size < 2:
        raise ValueError("each side needs at least two releases")
    s = math.sqrt((((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()) / k)
    if s == 0:
        return math.inf if b.mean() != a.mean() else 0.0
    shift_lo = (b.mean() - a.mean()) - stats.t.ppf(1 - alpha / 2, k) * s * math.sqrt(1 / a.size + 1 / b.size)
    sigma_hi = s * math.sqrt(k / stats.chi2.ppf(alpha / 2, k))
    return float(max(shift_lo, 0.0) / sigma_hi)


@dataclass(frozen=True)
class MeasurementAudit:
    """A white-box audit's outcome: the lower bound on Gaussian-DP ``mu`` beside the ``mu`` paid for.

    Examples
    --------
    >>> MeasurementAudit(mu_lower_bound=0.55, mu_claimed=0.6, trials=400).passed
    True
    """

    mu_lower_bound: float
    mu_claimed: float
    trials: int

    @property
    def passed(self) -> bool:
        """The released noise is no smaller than the ledger says (at the audit's confidence)."""
        return bool(self.mu_lower_bound <= self.mu_claimed)


def measurement_audit(
    release: Callable[[bool, int], tuple[float, float]], trials: int, alpha: float = 1e-3, progress: bool = False
) -> MeasurementAudit:
    """Audit a measurement step through its canary cell: ``trials`` releases with and without the canary.

    Parameters
    ----------
    release : callable
        ``release(with_canary, seed) -> (noisy canary cell, rho paid for that cell's
        measurement)``: runs the real measurement code on the table with or without
        a canary whose cell is empty otherwise (sensitivity 1).
    trials : int
        Releases per side.
    alpha : float
        The audit wrongly fails a correct mechanism with probability at most ``alpha``.

    Returns
    -------
    MeasurementAudit
        ``mu_claimed = sqrt(2 rho)`` (the Gaussian mechanism's ``Delta / sigma`` at
        ``Delta = 1``); ``passed`` is false when the releases show more.

    Examples
    --------
    A Gaussian count that pays for ``sigma = 2`` but adds ``sigma = 1`` fails:

    >>> def release(with_canary, seed):
    ...     noise = np.random.default_rng(seed).normal(0.0, 1.0)
    ...     return float(with_canary) + noise, 1 / (2 * 2.0**2)
    >>> measurement_audit(release, trials=300).passed
    False
    """
    from tqdm.auto import tqdm

    if not (isinstance(trials, int) and trials >= 2):
        raise ValueError(f"trials must be an integer >= 2, got {trials!r}")
    without, with_, paid = [], [], set()
    for seed in tqdm(range(trials), desc="measurement audit", unit="trial", disable=not progress):
        for side, out in ((False, without), (True, with_)):
            cell, rho = release(side, 2 * seed + int(side))
            out.append(cell)
            paid.add(round(rho, 15))
    if len(paid) != 1:
        raise ValueError(f"the measurement paid different amounts across trials: {sorted(paid)}")
    return MeasurementAudit(gaussian_mu_lower_bound(without, with_, alpha), math.sqrt(2 * paid.pop()), trials)
