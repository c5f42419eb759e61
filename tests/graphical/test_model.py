"""EstimationOptions refuses what it cannot do, naming the fix."""

import pytest

from dpquilt.graphical.model import EstimationOptions


def test_mbi_engine_with_the_accelerated_method_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="algorithm='mirror_descent'"):
        EstimationOptions(engine="mbi")
    off = dict(noise_level_stop=None, round_noise_level_stop=None)
    assert EstimationOptions(engine="mbi", algorithm="mirror_descent", **off).engine == "mbi"


@pytest.mark.parametrize("stop", ["noise_level_stop", "round_noise_level_stop"])
def test_mbi_engine_with_a_discrepancy_stop_is_refused_with_the_fix(stop):
    """mbi's public estimator cannot stop by the discrepancy rule: the stop is not silently dropped."""
    off = dict(noise_level_stop=None, round_noise_level_stop=None)
    with pytest.raises(ValueError, match=f"{stop}.*noise_level_stop=None, round_noise_level_stop=None"):
        EstimationOptions(engine="mbi", algorithm="mirror_descent", **{**off, stop: 1.5})


@pytest.mark.parametrize("field, value", [("engine", "torch"), ("algorithm", "newton"), ("iters", 0), ("noise_level_stop", 0.5)])
def test_unknown_or_out_of_range_options_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        EstimationOptions(**{field: value})


@pytest.mark.parametrize("engine, algorithm", [("numpy", "mirror_descent"), ("mbi", "mirror_descent")])
def test_single_precision_outside_the_accelerated_method_is_refused_with_the_fix(engine, algorithm):
    off = dict(noise_level_stop=None, round_noise_level_stop=None) if engine == "mbi" else {}
    with pytest.raises(ValueError, match="single_precision=False, or engine='numpy', algorithm='accelerated'"):
        EstimationOptions(engine=engine, algorithm=algorithm, single_precision=True, **off)
    assert not EstimationOptions(engine=engine, algorithm=algorithm, **off).single_precision
