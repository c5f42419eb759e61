"""A warm start's step toward a new measurement, stopped at its noise level.

AIM re-estimates its model every round after adding one measurement ``y`` (``n``
cells, noise ``sigma``) of a clique ``r``. The previous model ``p`` fits the old
measurements; its answer ``mu = p_r`` is typically far from ``y`` (tens of standard
deviations of the loss above its noise level on late rounds of wide tables), and a
warm-started descent spends most of its iterations pulling ``mu`` toward ``y``.

Multiplying ``p`` by ``t(x_r) / mu(x_r)`` gives the distribution closest to ``p`` in
KL divergence whose marginal on ``r`` is ``t`` (an iterative proportional fitting
step: Deming and Stephan, "On a least squares adjustment of a sampled frequency
table when the expected marginal totals are known", 1940; Csiszar, "I-divergence
geometry of probability distributions", 1975, Theorem 3.1). The target ``t`` is where
entropic mirror descent on the new measurement's loss alone,
``0.5 ||(t - y) / sigma||^2`` over tables ``t >= 0`` summing to ``N``, first reaches
the noise level ``||(t - y) / sigma||^2 <= n`` from ``mu`` (the discrepancy principle,
Morozov 1966), with the step ``sigma^2 / N`` of its relative smoothness (the loss is
``N / sigma^2``-smooth relative to ``N KL``; Bauschke, Bolte and Teboulle 2017,
Lu, Freund and Nesterov 2018)::

    t <- t exp(-sigma^2 / N (t - y) / sigma^2),   then rescaled to sum N.

Why this path and not a straight one: taking ``t = y``, or the point of the segment
from ``mu`` to ``y`` at the noise level, moves every cell by a share of its noise,
small cells too, where the model's own descent (multiplicative, in the same geometry)
moves them little. The answer's L1 move then carries noise: it inflates AIM's
annealing statistic (Section 4.3 of McKenna et al., "AIM: an adaptive and iterative
mechanism for differentially private synthetic data", 2022), and a fit that starts
there and stops at the noise level keeps the noise (adult at epsilon 1, 30 rounds,
seeds 0-7: 3-way error 0.0662 with the straight step against 0.0631 without a step).
The descent of the whole model then starts near where its stopping rule
(:class:`~dpquilt.graphical.stopping.Stopping`) would have it end, and goes on from
there. Post-processing of noisy measurements: no private data enters.
"""

from __future__ import annotations

import numpy as np

from ..marginals.measurement import Measurement

__all__ = ["MAX_STEPS", "MIN_SHARE", "noise_level_factor"]

#: most mirror-descent steps toward the noise level; where they do not reach it, the step stops where they got
MAX_STEPS = 10_000
#: no cell's answer is scaled below this share of the model's: the fit multiplies cells, so a cell taken
#: to zero (a measurement of many deviations below zero) could never come back
MIN_SHARE = 1e-4


def noise_level_factor(previous: np.ndarray, measurement: Measurement) -> np.ndarray | None:
    """The log-factor ``log(t / mu)`` over ``measurement.cols`` that moves a model's
    answer ``mu = previous`` to ``t``, where mirror descent on the measurement's loss
    alone first reaches its noise level (see the module docstring).

    Parameters
    ----------
    previous : ndarray
        The model's marginal over ``measurement.cols`` (positive counts on the
        measurement's scale), shaped by the columns.
    measurement : Measurement
        A full measurement (no cell weights).

    Returns
    -------
    ndarray or None
        Shaped like ``previous``; ``None`` when there is nothing to do: the answer is
        already within the noise, or the measurement weights its cells (its residual
        is not ``mu - y``).

    Examples
    --------
    >>> mu, y = np.array([50.0, 50.0]), np.array([60.0, 40.0])
    >>> t = mu * np.exp(noise_level_factor(mu, Measurement(("a",), y, sigma=1.0)))
    >>> bool(np.sum((t - y) ** 2) <= 2.0), float(t.sum())  # at the noise level, the same total
    (True, 100.0)
    >>> noise_level_factor(np.array([59.0, 41.0]), Measurement(("a",), y, sigma=10.0)) is None
    True
    """
    if measurement.weights is not None:
        return None
    mu = np.asarray(previous, dtype=np.float64)
    y = np.asarray(measurement.noisy, dtype=np.float64).reshape(mu.shape)
    level = y.size * measurement.sigma**2
    if not float(np.sum((mu - y) ** 2)) > level or not np.all(mu > 0):
        return None
    total = float(mu.sum())
    rate = 1.0 / total  # the step sigma^2 / N times the gradient's 1 / sigma^2
    log_mu = np.log(mu)
    log_t, t = log_mu, mu
    for _ in range(MAX_STEPS):
        log_t = log_t - rate * (t - y)
        top = log_t.max()
        shifted = np.exp(log_t - top)
        mass = float(shifted.sum())
        log_t = log_t - (top + np.log(mass / total))  # sums to N, kept in logs: no cell's factor underflows
        t = shifted * (total / mass)  # exp(log_t), from the one exponential
        if float(np.sum((t - y) ** 2)) <= level:
            break
    return np.maximum(log_t - log_mu, np.log(MIN_SHARE))
