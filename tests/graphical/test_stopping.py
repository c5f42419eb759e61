"""The discrepancy stopping rule of Private-PGM estimation."""

import numpy as np
import pytest

from dpquilt.graphical.options import EstimationOptions
from dpquilt.graphical.stopping import Stopping


def test_stops_at_a_multiple_of_the_iteration_that_reached_the_noise_level():
    stop = Stopping(EstimationOptions(noise_level_stop=2.0), sizes=[20])
    losses = {50: 100.0, 100: 30.0, 150: 9.0, 200: 8.0, 250: 7.5, 300: 7.0}
    done = [it for it, loss in losses.items() if stop.done(it, loss)]
    assert done[0] == 300  # reached at 150, stop at 2 x 150


def test_a_measurement_fitted_far_worse_than_its_noise_keeps_the_descent_going():
    """After a warm start the old measurements sit below their noise level; the new one
    must be fitted too before the rule counts the noise level as reached."""
    stop = Stopping(EstimationOptions(noise_level_stop=1.0), sizes=[200, 200, 8], fitted=2)
    # total 96 + 90 + 14 = 200 <= 204, but the 8-cell measurement is (14 - 4) / 2 = 5 sds above its level
    assert not stop.done(10, 200.0, np.array([96.0, 90.0, 14.0]))
    # within 3 sds (4 + 3 * 2 = 10): reached, and with factor 1 the descent stops
    assert stop.done(20, 196.0, np.array([96.0, 90.0, 10.0]))
    # from a cold start the total alone decides
    cold = Stopping(EstimationOptions(noise_level_stop=1.0), sizes=[200, 200, 8])
    assert cold.done(10, 200.0, np.array([96.0, 90.0, 14.0]))


def test_only_measurements_added_since_the_warm_start_must_reach_their_band():
    """An old measurement stuck above its band (one the nonnegative model cannot
    follow) must not keep every later warm-started fit running to its cap."""
    sizes = [8, 200, 8]
    stuck_old = np.array([12.0, 85.0, 9.0])  # the first is (12 - 4) / 2 = 4 sds above, the new one 2.5
    warm = Stopping(EstimationOptions(noise_level_stop=1.0), sizes=sizes, fitted=2)
    assert warm.done(10, float(stuck_old.sum()), stuck_old)
    everything_new = Stopping(EstimationOptions(noise_level_stop=1.0), sizes=sizes, fitted=0)
    assert not everything_new.done(10, float(stuck_old.sum()), stuck_old)
    new_unfitted = Stopping(EstimationOptions(noise_level_stop=1.0), sizes=sizes, fitted=2)
    assert not new_unfitted.done(10, 106.0, np.array([4.0, 86.0, 16.0]))


def test_a_warm_started_estimate_records_what_it_was_fitted_to():
    from dpquilt.graphical.model import _fitted_before, estimate
    from dpquilt.marginals.measurement import Measurement

    domain = {"a": 2, "b": 2}
    ms = [Measurement(("a",), np.array([40.0, 60.0]), 1.0), Measurement(("b",), np.array([50.0, 50.0]), 1.0)]
    first = estimate(domain, ms[:1], EstimationOptions(iters=50))
    assert first.n_measurements == 1
    assert _fitted_before(ms, first) == 1 and _fitted_before(ms, None) is None
    assert estimate(domain, ms, EstimationOptions(iters=50), warm_start=first).n_measurements == 2


def test_never_reached_runs_to_the_cap():
    stop = Stopping(EstimationOptions(noise_level_stop=2.0), sizes=[2])
    assert not any(stop.done(it, 5.0 - it / 1e5) for it in range(50, 10001, 50))


def test_disabled_rule_never_stops():
    stop = Stopping(EstimationOptions(noise_level_stop=None), sizes=[2_000_000_000])
    assert not any(stop.done(it, 1.0) for it in range(50, 1001, 50))


def test_relative_tolerance_still_stops():
    stop = Stopping(EstimationOptions(noise_level_stop=None, tol=1e-3), sizes=[])
    assert stop.done(50, 10.0) is False
    assert stop.done(100, 10.0) is False
    assert stop.done(150, 10.0) is True


@pytest.mark.parametrize("bad", [0.5, 0.0, -1.0])
@pytest.mark.parametrize("name", ["noise_level_stop", "round_noise_level_stop"])
def test_factor_below_one_is_refused(bad, name):
    with pytest.raises(ValueError, match=name):
        EstimationOptions(**{name: bad})


def test_estimate_stops_early_on_an_easy_problem_and_matches_the_long_run():
    from dpquilt.graphical.model import estimate
    from dpquilt.marginals.measurement import Measurement

    rng = np.random.default_rng(0)
    domain = {"a": 3, "b": 4}
    x = rng.integers(50, 150, size=12).astype(float)
    ms = [Measurement(("a", "b"), x + rng.normal(0, 5, 12), 5.0)]
    short = estimate(domain, ms, EstimationOptions(iters=10000))
    long = estimate(domain, ms, EstimationOptions(iters=10000, noise_level_stop=None))
    # one saturated clique: both fit the measurement to well within the noise
    np.testing.assert_allclose(short.project(("a", "b")), long.project(("a", "b")), atol=5.0)
