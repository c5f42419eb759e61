"""The synthesizers' shared base: scikit-learn's parameter protocol, clones, the privacy report."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from dpquilt import DiffusionSynthesizer, MarginalSynthesizer, NotFittedError
from dpquilt.synthesizers.base import clone_with

ESTIMATORS = [
    MarginalSynthesizer(epsilon=2.0, method="aim", rounds=20, random_state=np.random.default_rng(3), verbose=False),
    DiffusionSynthesizer(epsilon=3.0, random_state=5, verbose=False),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_sklearn_clone_gives_an_unfitted_equal_copy(estimator):
    copy = clone(estimator)
    assert type(copy) is type(estimator) and copy is not estimator
    original, cloned = estimator.get_params(deep=False), copy.get_params(deep=False)
    assert list(original) == list(cloned)
    for name, value in original.items():
        if isinstance(value, np.random.Generator):  # deep-copied: a new generator in the same state
            assert cloned[name] is not value and cloned[name].random() == np.random.default_rng(3).random()
        else:
            assert cloned[name] == value, name


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_params_round_trip_and_unknown_names_are_refused(estimator):
    params = estimator.get_params()
    assert set(params) == set(type(estimator)._param_names())
    copy = clone_with(estimator, epsilon=7.0)
    assert copy.epsilon == 7.0 and copy.get_params()["delta"] == params["delta"]
    assert copy.set_params(delta=1e-7) is copy and copy.delta == 1e-7
    with pytest.raises(ValueError, match="takes no parameter"):
        copy.set_params(epsilom=1.0)
    with pytest.raises(ValueError, match="takes no parameter"):
        clone_with(estimator, epsilom=1.0)


def test_repr_shows_the_parameters_that_differ_from_their_defaults():
    assert repr(MarginalSynthesizer()) == "MarginalSynthesizer()"
    assert repr(MarginalSynthesizer(epsilon=3.0, method="aim")) == "MarginalSynthesizer(epsilon=3.0, method='aim')"


def test_the_privacy_report_comes_from_the_fit_and_not_before():
    syn = MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False)
    with pytest.raises(NotFittedError, match="before privacy_report"):
        syn.privacy_report()
    rng = np.random.default_rng(0)
    syn.fit(pd.DataFrame({"a": rng.choice(list("xyz"), 500), "b": rng.choice(list("uv"), 500)}))
    report = syn.privacy_report()
    assert report == syn.accountant_.report(notes=syn.notes_)
    assert clone(syn).get_params() == syn.get_params() and not hasattr(clone(syn), "model_")
