"""Statistical audit of one DP-FedSGD round: a canary row's influence on the secure sum is bounded.

Neighbouring datasets: client 0 holds rows with zero gradient (``D``) or those rows and a
canary whose raw gradient is 1000 times the clipping norm (``D'``); clients 1 and 2 hold
rows with zero gradient. Each client replies with its clipped gradient sum rounded to
``r = C / 2^bits`` (uniform offsets) plus a discrete Gaussian share, and the released sum
(what SecAgg+ reveals) adds the three replies. One row moves the rounded sum by at most
``Delta_2 = 2^bits + sqrt(d)`` units, so the release is the distributed discrete Gaussian
of that sensitivity; the best threshold test between the two outputs must not beat its
(epsilon, delta) bound (zCDP ``rho`` of [KLS21] Theorem 2, converted). Without clipping the
canary would move the sum by 1000 C and the test would separate them perfectly.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dpquilt.evaluation.audit import epsilon_lower_bound  # noqa: E402
from dpquilt.federation.secure_fedsgd import FedSGDSettings, clipped_gradient_sum, rounded_sum  # noqa: E402
from dpquilt.federation.update_rounds import round_sigma, shared_reply  # noqa: E402
from dpquilt.privacy.distributed import party_sigma, rho_of_distributed_discrete_gaussian  # noqa: E402

TRIALS = 1500
DELTA = 1e-3
SETTINGS = FedSGDSettings(clip_norm=1.0, bits=4)  # r = 1/16: Delta_2 = 16 + 1 units for one weight
CLIENTS = 3


def released_sum(with_canary: bool, seed: int, sigma: float, settings: FedSGDSettings = SETTINGS) -> float:
    net = torch.nn.Linear(1, 1, bias=False)
    total = 0.0
    for client in range(CLIENTS):
        x = torch.zeros((4, 1, 1))
        if with_canary and client == 0:
            x = torch.cat([x, torch.full((1, 1, 1), 1000.0)])

        def loss(module, rows, generator, x=x):
            return module(x[torch.as_tensor(rows)]).sum(dim=(1, 2))  # d loss / d w = x: 1000 for the canary

        gradient = clipped_gradient_sum(SimpleNamespace(model=net), loss, x.shape[0], settings.clip_norm, None)
        offsets = np.random.default_rng([seed, client, 7]).random(gradient.size)
        reply = shared_reply(rounded_sum(gradient, settings, offsets, 10**6), party_sigma(sigma, CLIENTS), seed,
                             client, 1, "bits")
        total += reply[0]
    return total


@pytest.mark.slow
def test_one_fedsgd_round_is_no_more_distinguishable_than_its_distributed_discrete_gaussian():
    rho = 0.5
    sigma = round_sigma(rho, CLIENTS, SETTINGS, 1)
    out = np.array([released_sum(False, s, sigma) for s in range(TRIALS)])
    out_canary = np.array([released_sum(True, TRIALS + s, sigma) for s in range(TRIALS)])
    assert out.std() == pytest.approx(sigma, rel=0.1)
    assert out_canary.mean() - out.mean() == pytest.approx(2**SETTINGS.bits, abs=0.2 * sigma)  # the clipped canary
    best = epsilon_lower_bound(out, out_canary, DELTA)
    l2, l1 = SETTINGS.sensitivities(1)
    claimed = rho_of_distributed_discrete_gaussian(party_sigma(sigma, CLIENTS), CLIENTS, l2, l1, 1)
    assert claimed == pytest.approx(rho, rel=1e-6)
    eps_theory = claimed + 2 * math.sqrt(claimed * math.log(1 / DELTA))  # zCDP to (epsilon, delta)
    assert 0.3 < best <= eps_theory  # the audit has power, and finds no more leakage than the claim allows


@pytest.mark.slow
def test_the_audit_catches_gradients_that_are_not_clipped():
    sigma = round_sigma(0.5, CLIENTS, SETTINGS, 1)  # the noise claimed for rows clipped at C
    loose = FedSGDSettings(clip_norm=8.0, bits=SETTINGS.bits + 3)  # the same unit r, but rows clipped at 8 C
    out = np.array([released_sum(False, s, sigma, loose) for s in range(TRIALS)])
    out_canary = np.array([released_sum(True, TRIALS + s, sigma, loose) for s in range(TRIALS)])
    eps_theory = 0.5 + 2 * math.sqrt(0.5 * math.log(1 / DELTA))
    assert epsilon_lower_bound(out, out_canary, DELTA) > eps_theory
