"""Full collections are deferred during AIM's rounds, and the collector's settings come back."""

import gc

import numpy as np
import pytest

import dpquilt as dq
from dpquilt.graphical.collector import DEFERRED, full_collections_deferred


def test_thresholds_come_back_after_an_error_and_a_nested_use_changes_nothing():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError):
        with full_collections_deferred():
            with full_collections_deferred():
                assert gc.get_threshold() == (before[0], before[1], DEFERRED)
            assert gc.get_threshold() == (before[0], before[1], DEFERRED)  # the inner exit left the outer's
            raise RuntimeError("stop")
    assert gc.get_threshold() == before


def test_a_disabled_collector_is_left_alone():
    before = gc.get_threshold()
    gc.disable()
    try:
        with full_collections_deferred():
            assert gc.get_threshold() == before and not gc.isenabled()
    finally:
        gc.enable()


def test_aims_rounds_run_with_full_collections_deferred(monkeypatch):
    import dpquilt.synthesizers.marginal as marginal

    seen = []
    real = marginal.aim

    def recording(*args, **kwargs):
        seen.append(gc.get_threshold()[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(marginal, "aim", recording)
    rng = np.random.default_rng(0)
    df = __import__("pandas").DataFrame({"a": rng.integers(0, 3, 300), "b": rng.integers(0, 2, 300)})
    syn = dq.MarginalSynthesizer(method="aim", epsilon=1.0, schema=dq.Schema.from_domain({"a": 3, "b": 2}), rounds=3,
                                 random_state=0, verbose=False).fit(df)
    assert seen == [DEFERRED] and gc.get_threshold()[2] != DEFERRED and syn.rounds_ >= 1
