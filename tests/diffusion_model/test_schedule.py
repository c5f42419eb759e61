"""The cosine schedule and the reverse step."""

import numpy as np
import pytest

from dpquilt.diffusion_model.schedule import CosineSchedule


def test_alpha_bar_decreases_from_one_to_nearly_zero():
    sched = CosineSchedule(100)
    abar = sched.alpha_bar
    assert np.all(np.diff(abar) < 0)
    assert abar[0] > 0.999 and abar[-1] < 1e-4
    assert np.all((sched.betas > 0) & (sched.betas <= 0.999))


def test_posterior_variance_is_between_zero_and_beta():
    sched = CosineSchedule(50)
    post = sched.posterior_variance
    assert post[0] == 0.0
    assert np.all(post[1:] > 0) and np.all(post <= sched.betas + 1e-15)


def test_reverse_step_with_the_true_noise_recovers_x0_at_the_last_step():
    sched = CosineSchedule(20)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, 1000)
    eps = rng.normal(size=1000)
    a = sched.alpha_bar[0]
    x1 = np.sqrt(a) * x0 + np.sqrt(1 - a) * eps
    np.testing.assert_allclose(sched.reverse_step(x1, eps, 0, None), x0, atol=1e-9)


def test_exact_noise_prediction_yields_the_posterior_mean_of_eq_7():
    sched = CosineSchedule(30)
    rng = np.random.default_rng(1)
    x0, eps, t = rng.uniform(-1, 1, 500), rng.normal(size=500), 12
    a_t, a_prev, beta = sched.alpha_bar[t], sched.alpha_bar[t - 1], sched.betas[t]
    x_t = np.sqrt(a_t) * x0 + np.sqrt(1 - a_t) * eps
    expected = beta * np.sqrt(a_prev) / (1 - a_t) * x0 + (1 - a_prev) * np.sqrt(1 - beta) / (1 - a_t) * x_t
    np.testing.assert_allclose(sched.reverse_step(x_t, eps, t, np.zeros(500)), expected, atol=1e-9)


def test_bad_steps_are_refused():
    with pytest.raises(ValueError, match="steps must be an integer >= 2"):
        CosineSchedule(1)
