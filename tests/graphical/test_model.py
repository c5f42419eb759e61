"""EstimationOptions refuses what it cannot do, naming the fix."""

import pytest

from dpquilt.graphical.model import EstimationOptions


def test_mbi_engine_with_the_accelerated_method_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="algorithm='mirror_descent'"):
        EstimationOptions(engine="mbi")
    assert EstimationOptions(engine="mbi", algorithm="mirror_descent").engine == "mbi"


@pytest.mark.parametrize("field, value", [("engine", "torch"), ("algorithm", "newton"), ("iters", 0), ("noise_level_stop", 0.5)])
def test_unknown_or_out_of_range_options_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        EstimationOptions(**{field: value})
