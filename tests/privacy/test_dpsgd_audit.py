"""Statistical audit of one DP-SGD step: a canary record's influence is bounded by clipping.

Neighbouring datasets: ``D`` (records with zero gradient) and ``D' = D + canary``, where
the canary's raw gradient is 1000 times the clipping norm. One step of ``train_dpsgd``
(q = 1) releases the noised, averaged gradient. Clipping bounds the canary's shift to
``C``, so the release is the Gaussian mechanism with ``sigma = z C``; the best threshold
test between the two output distributions must not beat that mechanism's (epsilon,
delta) curve (a lower bound from Clopper-Pearson intervals, as in Jagielski et al.,
"Auditing Differentially Private Machine Learning", NeurIPS 2020). Without clipping the
shift would be 1000 C and the test would separate them perfectly.
"""

import math

import numpy as np
import pytest
from scipy.stats import norm

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from dpquilt.privacy.randomness import Randomness  # noqa: E402
from dpquilt.dpsgd.training import DPSGDPlan, DPSGDSettings, train_dpsgd  # noqa: E402
from dpquilt.evaluation.audit import epsilon_lower_bound  # noqa: E402
from dpquilt.privacy import Accountant  # noqa: E402

TRIALS = 1500
Z, C, DELTA = 1.0, 1.0, 1e-3


def released_gradient(with_canary: bool, seed: int) -> float:
    net = torch.nn.Linear(1, 1, bias=False)
    x = torch.zeros((5, 1, 1))
    if with_canary:
        x = torch.cat([x, torch.full((1, 1, 1), 1000.0)])

    def loss(module, rows, generator):
        return module(x[torch.as_tensor(rows)]).sum(dim=(1, 2))  # d loss / d w = x: 1000 for the canary

    plan = DPSGDPlan(noise_multiplier=Z, sample_rate=1.0, steps=1, max_grad_norm=C, expected_batch_size=1.0)
    train_dpsgd(net, loss, x.shape[0], plan, DPSGDSettings(), Accountant(100.0, 0.5), "audit", Randomness.of(seed), "cpu")
    return float(net.weight.grad)


def gaussian_delta(eps: float, mu: float) -> float:
    """delta(eps) of the Gaussian mechanism with shift/sigma = mu (Balle and Wang 2018, Thm 8)."""
    return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2)


@pytest.mark.slow
def test_one_dpsgd_step_is_no_more_distinguishable_than_its_gaussian_mechanism():
    out = np.array([released_gradient(False, s) for s in range(TRIALS)])
    out_canary = np.array([released_gradient(True, TRIALS + s) for s in range(TRIALS)])
    assert out.std() == pytest.approx(Z * C, rel=0.1) and out_canary.mean() == pytest.approx(C, abs=0.15)
    best = epsilon_lower_bound(out, out_canary, DELTA)
    eps_theory = next(e for e in np.linspace(0.01, 10, 2000) if gaussian_delta(e, C / (Z * C)) <= DELTA)
    assert 0.3 < best <= eps_theory  # the audit has power, and finds no more leakage than the bound allows
