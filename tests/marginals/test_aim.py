"""AIM: exact budget use, declared sensitivities, and a pinned utility regression."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.graphical.model import EstimationOptions, estimate

from dpquilt.graphical.sizes import model_size_mb
from dpquilt.marginals.aim import aim, candidate_scores, model_marginals
from dpquilt.marginals.counting import count
from dpquilt.schema.dataset import Dataset
from dpquilt.marginals.oracle import LocalOracle
from dpquilt.marginals.workload import Workload
from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.noise import SeededNoise
from tests.marginals.test_sensitivity import DOMAIN, as_dataset, neighbours


def small_data(seed=0, n=500):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(0, 2, n)) % 4
    c = rng.integers(0, 2, n)
    return Dataset({"a": a, "b": b, "c": c}, DOMAIN)


def run_aim(data, epsilon, rounds, seed=0, max_model_size=80.0):
    acc = Accountant(epsilon, 1e-9)
    domain = dict(data.domain)
    result = aim(
        LocalOracle(data, SeededNoise(np.random.default_rng(seed))),
        acc.remaining_rho(),
        acc,
        Workload.all_kway(list(domain), 2),
        fit_model=lambda ms, warm: estimate(domain, ms, EstimationOptions(iters=20, noise_level_stop=None), warm_start=warm),
        model_size=lambda cl: model_size_mb(domain, cl),
        rounds=rounds,
        max_model_size=max_model_size,
    )
    return acc, result


@given(st.integers(3, 40), st.sampled_from([0.1, 1.0, 8.0]), st.integers(0, 3))
@settings(max_examples=15, deadline=None)
def test_aim_spends_exactly_its_budget(rounds, epsilon, seed):
    acc, result = run_aim(small_data(seed), epsilon, rounds, seed)
    assert acc.epsilon_spent() <= epsilon * (1 + 1e-9)
    assert acc.rho_spent == pytest.approx(acc.rho_budget, rel=1e-9)
    selections = [e for e in acc.ledger if "selection" in e.what]
    assert len(selections) == result.rounds >= 1


def test_rounds_fewer_than_columns_is_refused():
    with pytest.raises(ValueError, match=r"rounds=2 is fewer than the 3 columns; AIM needs rounds >= columns"):
        run_aim(small_data(), 1.0, rounds=2)


@given(neighbours(), st.floats(0.5, 30.0))
@settings(max_examples=100, deadline=None)
def test_selection_scores_have_the_declared_sensitivity(pair, sigma):
    d, d2 = (as_dataset(r) for r in pair)
    workload = Workload.of({("a", "b"): 2.0, ("b", "c"): 0.5, ("a", "b", "c"): 1.0})
    candidates = workload.candidates()

    class Fixed:  # the model is post-processing of earlier releases: the same on both sides
        def project(self, cols):
            return np.full([DOMAIN[c] for c in cols], 3.0)

    _, s, sens = candidate_scores(candidates, {r: count(d, r).ravel() for r in candidates}, Fixed(), sigma)
    _, s2, sens2 = candidate_scores(candidates, {r: count(d2, r).ravel() for r in candidates}, Fixed(), sigma)
    assert sens == sens2 == max(candidates.values())
    assert np.max(np.abs(s2 - s)) <= sens + 1e-9


def test_candidate_weights_follow_the_paper():
    w = Workload.of({("a", "b"): 1.0, ("b", "c"): 2.0})
    cand = w.candidates()
    assert cand[("b",)] == 3.0 and cand[("a",)] == 1.0 and cand[("a", "b")] == 4.0 and cand[("b", "c")] == 5.0


def test_model_size_cap_limits_selection():
    acc, result = run_aim(small_data(), 50.0, rounds=12, max_model_size=1e-12)
    # nothing beyond the 1-way cliques fits a zero-size cap
    assert all(len(m.cols) == 1 for m in result.measurements)


def test_titanic_epsilon_one_stays_under_its_pinned_error():
    """Fixed-seed utility regression (measured 0.314 on 2026-11-25; independent columns score ~0.45)."""
    import dpquilt as dq
    from dpquilt.evaluation.workload_error import workload_error
    from tests.conftest import load_shared

    df, domain = load_shared("titanic")
    schema = dq.Schema.from_domain(domain)
    syn = dq.MarginalSynthesizer(
        epsilon=1.0, delta=1e-9, method="aim", schema=schema, rounds=2 * len(domain), random_state=0, verbose=False
    ).fit(df)
    assert syn.privacy_report().rho_spent <= syn.accountant_.rho_budget * (1 + 1e-9)
    assert workload_error(df, syn.sample(random_state=0), schema, k=3) < 0.33


def test_candidate_marginals_read_from_containing_ones_equal_direct_projections():
    rng = np.random.default_rng(3)
    domain = {"a": 3, "b": 4, "c": 2, "d": 3, "e": 2}
    from dpquilt.graphical.model import GraphicalModel

    potentials = {c: rng.normal(0, 1, [domain[a] for a in c]) for c in [("a", "b"), ("b", "c", "d"), ("d", "e")]}
    model = GraphicalModel(domain, 1000.0, potentials)
    candidates = list(Workload.all_kway(list(domain), 3).candidates())
    answers = model_marginals(candidates, model)
    assert set(answers) == set(candidates)
    for r in candidates:
        np.testing.assert_allclose(answers[r], model.project(r), rtol=0, atol=1e-6 * model.total)  # float32 projections


def test_annealing_is_decided_on_a_refitted_model_when_the_round_fit_stopped_early():
    data = small_data(0, n=3000)  # b follows a: the 1-way model is far from the (a, b) marginal
    domain = dict(data.domain)
    refits = []

    def lazy(ms, warm):  # a round fit that stops at once: the model never moves, so the test always fires
        return warm if warm is not None else estimate(domain, ms, EstimationOptions(iters=300), warm_start=None)

    def refit(ms, warm, watch):
        refits.append(len(ms))
        return estimate(domain, ms, EstimationOptions(iters=300, noise_level_stop=None), warm_start=warm, watch=watch)

    def adaptive_sigmas(refit_model):
        acc = Accountant(1.0, 1e-9)
        aim(
            LocalOracle(data, SeededNoise(np.random.default_rng(0))), acc.remaining_rho(), acc,
            Workload.all_kway(list(domain), 2), fit_model=lazy, model_size=lambda cl: model_size_mb(domain, cl),
            rounds=12, refit_model=refit_model,
        )
        assert acc.rho_spent == pytest.approx(acc.rho_budget, rel=1e-9)  # refits are post-processing
        return [e.noise_scale for e in acc.ledger if e.what.startswith("marginal")][len(domain):]

    lazy_sigmas = adaptive_sigmas(None)
    assert not refits
    assert lazy_sigmas[1] == pytest.approx(lazy_sigmas[0] / 2)  # annealed on a model that did not move
    confirmed = adaptive_sigmas(refit)
    assert refits and refits[0] == len(domain) + 1  # asked after the first round, whose fit did not move
    assert confirmed[1] == pytest.approx(confirmed[0])  # the refitted model moved: no annealing


class _Answer:
    """A stand-in model whose answer on every clique is ``values``."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=float)

    def project(self, cols):
        return self.values


def _refits_through(answers, looks=()):
    """A stand-in refit whose ``k``-th step ends on ``answers[k - 1]``; ``looks[k - 1]`` (if
    given) are the answers its watch is shown along the way, the step ending at the first
    the watch stops on."""
    calls, shown = [], []

    def refit(model, watch):
        calls.append(model)
        for k, answer in enumerate(looks[len(calls) - 1] if looks else [], start=1):
            shown.append(answer)
            if watch(10 * k, np.asarray(answer, dtype=float)):
                return _Answer(answer)
        return _Answer(answers[len(calls) - 1])

    return refit, calls, shown


def test_refits_stop_once_the_answer_moves_more_than_the_noise():
    from dpquilt.marginals.aim import SQRT_2_OVER_PI, _annealing_test

    before, sigma = np.zeros(2), 1.0  # threshold sqrt(2/pi) * 2 = 1.596
    assert SQRT_2_OVER_PI * sigma * before.size == pytest.approx(1.5958, abs=1e-4)
    refit, calls, _ = _refits_through([[0.5, 0.5], [1.0, 1.0], [5.0, 5.0]])
    model, anneal = _annealing_test(_Answer([0.0, 0.1]), ("a",), before, sigma, refit, max_refits=10)
    assert not anneal and len(calls) == 2 and model.values.tolist() == [1.0, 1.0]  # moved 2 > 1.596 after 2


def test_a_refit_step_ends_as_soon_as_its_answer_moves_more_than_the_noise():
    from dpquilt.marginals.aim import _annealing_test

    inside = [[0.2, 0.2], [0.9, 0.9], [3.0, 3.0], [4.0, 4.0]]  # past the 1.596 threshold at the second look
    refit, calls, shown = _refits_through([[4.0, 4.0]], looks=[inside])
    model, anneal = _annealing_test(_Answer([0.0, 0.0]), ("a",), np.zeros(2), 1.0, refit, max_refits=10)
    assert not anneal and len(calls) == 1 and len(shown) == 2 and model.values.tolist() == [0.9, 0.9]


def test_refits_stop_when_the_answer_settles_and_then_anneal():
    from dpquilt.marginals.aim import REFIT_SETTLED, _annealing_test

    step = 0.5 * REFIT_SETTLED * 1.5958  # less than the settled share of the threshold
    refit, calls, _ = _refits_through([[0.3, 0.3], [0.3 + step, 0.3], [1.0, 1.0]])
    _, anneal = _annealing_test(_Answer([0.0, 0.0]), ("a",), np.zeros(2), 1.0, refit, max_refits=10)
    assert anneal and len(calls) == 2  # the second step changed the move by less than the settled share


def test_refits_are_capped_and_absent_without_a_refitter():
    from dpquilt.marginals.aim import _annealing_test

    refit, calls, _ = _refits_through([[0.1 * k, 0.1 * k] for k in range(1, 20)])
    _, anneal = _annealing_test(_Answer([0.0, 0.0]), ("a",), np.zeros(2), 1.0, refit, max_refits=3)
    assert anneal and len(calls) == 3
    model, anneal = _annealing_test(_Answer([0.0, 2.0]), ("a",), np.zeros(2), 1.0, None, max_refits=3)
    assert not anneal and model.values.tolist() == [0.0, 2.0]
