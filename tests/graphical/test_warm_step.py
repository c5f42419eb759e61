"""The warm start's step toward a new measurement (dpquilt.graphical.warm_step)."""

import dataclasses

import numpy as np
import pytest

from dpquilt.graphical.accelerated import accelerated_descent
from dpquilt.graphical.model import GraphicalModel, estimate
from dpquilt.graphical.options import EstimationOptions
from dpquilt.graphical.stopping import NOISE_BAND, Stopping
from dpquilt.graphical.warm_step import MIN_SHARE, noise_level_factor
from dpquilt.marginals.measurement import Measurement, noisy_total


def test_the_step_reaches_the_noise_level_and_keeps_the_total():
    rng = np.random.default_rng(0)
    mu = rng.uniform(200, 400, size=(4, 5))
    y = mu + rng.normal(0, 60, size=mu.shape)  # far outside a noise of sigma = 5
    factor = noise_level_factor(mu, Measurement(("a", "b"), y.ravel(), sigma=5.0))
    target = mu * np.exp(factor)
    residual = np.sum((target - y) ** 2) / 5.0**2
    assert residual <= y.size
    assert residual > 0.9 * y.size  # the first step at the noise level, not the measurement itself
    assert target.sum() == pytest.approx(mu.sum())


def test_small_cells_move_less_than_on_the_straight_way_to_the_measurement():
    """The step follows the model's own (multiplicative) geometry: noise in cells the
    model holds nearly empty is not copied into them, as the point of the segment from
    the answer to the measurement at the same noise level would."""
    rng = np.random.default_rng(1)
    mu = np.concatenate([rng.uniform(2_000, 4_000, 10), np.full(40, 0.5)])
    truth = np.concatenate([mu[:10] * rng.uniform(0.6, 1.4, 10), np.zeros(40)])
    truth *= mu.sum() / truth.sum()
    sigma = 5.0
    y = truth + rng.normal(0, sigma, truth.shape)
    target = mu * np.exp(noise_level_factor(mu, Measurement(("a",), y, sigma=sigma)))
    share = 1.0 - np.sqrt(y.size * sigma**2 / np.sum((mu - y) ** 2))
    straight = np.maximum(mu + share * (y - mu), 0.0)
    small = slice(10, None)
    assert np.abs(target[small] - mu[small]).sum() < 0.5 * np.abs(straight[small] - mu[small]).sum()


def test_no_step_within_the_noise_or_for_a_weighted_measurement():
    mu = np.array([100.0, 100.0, 100.0])
    close = Measurement(("a",), mu + np.array([3.0, -2.0, 1.0]), sigma=5.0)
    assert noise_level_factor(mu, close) is None
    far = np.array([300.0, 10.0, 5.0])
    assert noise_level_factor(mu, Measurement(("a",), far, sigma=1.0)) is not None
    weighted = Measurement(("a",), far, sigma=1.0, weights=np.array([1.0, 1.0, 0.0]))
    assert noise_level_factor(mu, weighted) is None


def test_negative_noisy_counts_leave_a_finite_factor_and_a_positive_answer():
    mu = np.array([50.0, 50.0, 400.0])
    y = np.array([-300.0, 40.0, 900.0])
    factor = noise_level_factor(mu, Measurement(("a",), y, sigma=1.0))
    assert np.all(np.isfinite(factor))
    np.testing.assert_allclose(mu[0] * np.exp(factor[0]), MIN_SHARE * mu[0])  # far below zero: held at the floor


def _two_rounds(seed: int):
    """A model fitted to (a, b) and (b, c) of a table whose a and c depend on each other,
    and a new, precise measurement of (a, c) that it is far from."""
    rng = np.random.default_rng(seed)
    domain = {"a": 4, "b": 3, "c": 5}
    joint = rng.gamma(0.5, size=(4, 3, 5)) + 5.0 * np.eye(4, 5)[:, None, :]
    joint *= 20_000 / joint.sum()
    sigma = 3.0

    def measure(cols, axis):
        table = joint.sum(axis=axis)
        return Measurement(cols, (table + rng.normal(0, sigma, table.shape)).ravel(), sigma)

    old = [measure(("a", "b"), 2), measure(("b", "c"), 0)]
    first = estimate(domain, old, EstimationOptions())
    return domain, old + [measure(("a", "c"), 1)], first


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_round_fit_started_with_the_step_stops_sooner_at_the_same_rule(seed):
    domain, ms, first = _two_rounds(seed)
    total, new = first.total, ms[-1]
    factor = noise_level_factor(first.project(new.cols), new)
    assert factor is not None
    fits = {}
    for name, factors in (("plain", []), ("step", [(new.cols, factor)])):
        stop = Stopping(EstimationOptions(), [m.noisy.size for m in ms], fitted=2)
        fits[name] = fit = accelerated_descent(
            domain, ms, total, 1000, first.project, stop=stop.done, start_factors=factors
        )
        answer = GraphicalModel(domain, total, fit.potentials).project(new.cols).ravel()
        loss = 0.5 * np.sum(((answer - new.noisy) / new.sigma) ** 2)
        half = 0.5 * new.noisy.size
        assert loss - half <= NOISE_BAND * np.sqrt(half)  # both end fitted to the new measurement's noise
    assert fits["step"].iterations < fits["plain"].iterations


def test_estimate_takes_the_step_only_when_asked():
    domain, ms, first = _two_rounds(0)
    with_step = estimate(domain, ms, EstimationOptions(), warm_start=first)
    without = estimate(domain, ms, dataclasses.replace(EstimationOptions(), warm_step=False), warm_start=first)
    total = noisy_total(ms)
    plain = accelerated_descent(
        domain, ms, total, EstimationOptions().iters, lambda cols: first.project(cols) * (total / first.total),
        stop=Stopping(EstimationOptions(), [m.noisy.size for m in ms], fitted=2).done, initial_step=first.step,
    )
    for clique, table in plain.potentials.items():
        np.testing.assert_array_equal(without.potentials[clique], table)
    assert any(not np.array_equal(with_step.potentials[c], t) for c, t in plain.potentials.items())
