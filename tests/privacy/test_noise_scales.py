"""White-box: every noise draw has the scale its ledger entry paid for, at the verified sensitivity.

A recording noise source notes each draw; the ledger says what was paid. For MST and AIM
(schema learning included: kinds, units, category lists, point masses, bounds; and the
histogram refiner), the federated oracle, the
DP-SGD refiner and the standalone diffusion model, each draw must match its entry.
``tests/privacy/test_mutations.py`` shows that these checks fail when the noise is halved,
a sensitivity is exceeded or a charge is skipped.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import dpquilt as dq
from dpquilt.marginals.mst import MST_SCORE_SENSITIVITY
from dpquilt.marginals.workload import DEFAULT_MAX_CELLS, Workload
from dpquilt.privacy.accountant import Expenditure
from dpquilt.privacy.mechanisms import COUNT_SENSITIVITY
from dpquilt.privacy.noise import SeededNoise
from dpquilt.privacy.randomness import Randomness
from dpquilt.privacy.recording import RecordingNoise, ledger_mismatches
from tests.conftest import FAST


def table(n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    city = rng.choice(["oslo", "rome", "lima"], n)
    return pd.DataFrame(
        {
            "age": rng.integers(20, 70, n),
            "income": np.round(rng.lognormal(8, 0.6, n), 2),
            "city": city,
            "flag": np.where(city == "oslo", "yes", rng.choice(["yes", "no"], n)),
            "code": rng.choice(["1", "2", "3"], n).astype(object),  # its kind is learned ("auto")
            "day": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),  # a unit
        }
    )


def verified_sensitivity(workload: Workload | None = None):
    """The sensitivity each kind of query is proven (by the property tests) to have."""
    aim_weight = max(workload.candidates().values()) if workload is not None else None

    def of(entry: Expenditure) -> float | None:
        if entry.what.startswith("MST edge"):
            return MST_SCORE_SENSITIVITY
        if entry.what.startswith("AIM round"):
            return aim_weight
        if entry.mechanism != "exponential mechanism":
            return COUNT_SENSITIVITY  # histograms: marginals, bands, category counts, value classes
        return None

    return of


def recorded_fit(monkeypatch, method: str, **options):
    noise = RecordingNoise(SeededNoise(np.random.default_rng(0)))
    randomness = Randomness(noise, np.random.SeedSequence(0))  # the fit's one randomness, its noise recorded
    syn = dq.MarginalSynthesizer(epsilon=2.0, method=method, schema={"code": {"kind": "auto"}}, random_state=randomness,
                                 verbose=False, estimation=FAST, **options).fit(table())
    return syn, noise


def check_marginal_fit(monkeypatch, method: str) -> None:
    options = {"rounds": 8} if method == "aim" else {}
    syn, noise = recorded_fit(monkeypatch, method, **options)
    workload = Workload.all_kway(list(syn.schema_.names), 3, syn.schema_.domain(), max_cells=DEFAULT_MAX_CELLS)
    ledger = syn.privacy_report().expenditures
    problems = ledger_mismatches(noise.draws, ledger, verified_sensitivity(workload if method == "aim" else None))
    assert not problems, "\n".join(problems)
    whats = [e.what for e in ledger]
    for expected in ("kind of 'code'", "kind of 'flag'", "categories of 'city'", "bounds of 'age'", "unit of 'day'",
                     "marginal (", "within-bin histogram of 'income'", "within-bin histogram of 'day'"):
        assert any(w.startswith(expected) for w in whats), f"no {expected!r} in the ledger"


@pytest.mark.parametrize("method", ["mst", "aim"])
def test_every_draw_of_a_marginal_fit_matches_its_ledger_entry(monkeypatch, method):
    check_marginal_fit(monkeypatch, method)


def check_federated_oracle(method: str = "mst", clients=3, honest=2) -> None:
    """Each client's share has scale ``party_sigma``; the shares sum to the entry's sigma."""
    from dpquilt.federation.federated_oracle import FederatedOracle
    from dpquilt.federation.protocol import client_reply, score_sensitivity
    from dpquilt.graphical.model import EstimationOptions, estimate
    from dpquilt.graphical.sizes import model_size_mb
    from dpquilt.marginals.aim import aim
    from dpquilt.marginals.mst import mst
    from dpquilt.privacy.accountant import Accountant
    from dpquilt.privacy.distributed import party_sigma
    from tests.federation.test_federated_oracle import split
    from tests.marginals.test_sensitivity import DOMAIN

    parts = split(k=clients)
    recorders = [RecordingNoise(SeededNoise(np.random.default_rng(i))) for i in range(clients)]
    requests = []

    def secure_sum(request, length, on_retry=None):
        requests.append(request)
        vectors = [client_reply(request, d, recorders[i], 2**26) for i, d in enumerate(parts)]
        return np.sum(vectors, axis=0)[:-1], clients

    acc = Accountant(3.0, 1e-9, secure=False)
    oracle = FederatedOracle(secure_sum, DOMAIN, honest_shares=honest)
    if method == "mst":
        mst(oracle, acc.rho_budget, acc)
    else:
        aim(oracle, acc.rho_budget, acc, Workload.all_kway(list(DOMAIN), 2), rounds=5,
            fit_model=lambda ms, warm: estimate(DOMAIN, ms, EstimationOptions(iters=20), warm_start=warm),
            model_size=lambda cliques: model_size_mb(DOMAIN, cliques))
    entries = list(acc.ledger)
    assert all(len(r.draws) == len(requests) for r in recorders)
    used = 0
    for k, request in enumerate(requests):
        n_entries = len(request.cliques) if request.kind == "measure" else 1
        group, used = entries[used:used + n_entries], used + n_entries
        for entry in group:
            assert entry.mechanism.startswith(f"distributed discrete Gaussian ({honest} honest shares)")
            expected = COUNT_SENSITIVITY if request.kind == "measure" else score_sensitivity(request.weights)[0]
            assert math.isclose(entry.sensitivity, expected)
            for recorder in recorders:
                assert math.isclose(recorder.draws[k].scale, party_sigma(entry.noise_scale, honest), rel_tol=1e-9)
    assert used == len(entries)


@pytest.mark.parametrize("method", ["mst", "aim"])
def test_every_client_share_of_a_federated_fit_matches_its_ledger_entry(method):
    check_federated_oracle(method)


def recorded_dpsgd_stds(monkeypatch) -> list[float]:
    import dpquilt.dpsgd.clipping as clipping

    stds = []
    real = clipping.gaussian_noise

    def recording(std, numel, generator, device, secure_rng=None):
        stds.append(float(std))
        return real(std, numel, generator, device, secure_rng)

    monkeypatch.setattr(clipping, "gaussian_noise", recording)
    return stds


def check_dpsgd_entry(stds: list[float], entry: Expenditure, max_grad_norm: float) -> None:
    steps = int(entry.mechanism.split(", ")[1].split()[0])
    assert len(stds) == steps, f"{len(stds)} noise draws for a ledger entry of {steps} steps"
    assert all(math.isclose(s, entry.noise_scale * max_grad_norm, rel_tol=1e-12) for s in stds)


def check_dpsgd_fit(monkeypatch, model: str) -> None:
    """Fit the DP-SGD refiner or the standalone model; every step's noise must match the RDP entry."""
    from dpquilt.dpsgd.training import DPSGDSettings
    from dpquilt.diffusion_model.gaussian_diffusion import DDPMSettings

    stds = recorded_dpsgd_stds(monkeypatch)
    settings = DDPMSettings(hidden=16, diffusion_steps=10, training=DPSGDSettings(epochs=2.0, min_steps=0))
    df = table(1500)[["age", "income", "city"]]
    public = {"age": {"kind": "integer", "lower": 18, "upper": 80, "bins": 4}, "income": {"lower": 0, "upper": 1e5},
              "city": {"categories": ["lima", "oslo", "rome"]}}
    if model == "refiner":
        syn = dq.MarginalSynthesizer(epsilon=3.0, schema=public, refiner="ddpm", refiner_settings=settings,
                                     device="cpu", random_state=0, verbose=False, estimation=FAST).fit(df)
    else:
        syn = dq.DiffusionSynthesizer(epsilon=3.0, schema=public, settings=settings, device="cpu", random_state=0,
                                      verbose=False).fit(df)
    entries = [e for e in syn.privacy_report().expenditures if e.rdp is not None]
    assert len(entries) == 1, f"{len(entries)} DP-SGD ledger entries for one training run"
    check_dpsgd_entry(stds, entries[0], settings.training.max_grad_norm)


@pytest.mark.parametrize("model", ["refiner", "standalone"])
def test_every_dpsgd_step_adds_the_noise_its_rdp_curve_paid_for(monkeypatch, model):
    pytest.importorskip("torch")
    pytest.importorskip("opacus")
    check_dpsgd_fit(monkeypatch, model)
