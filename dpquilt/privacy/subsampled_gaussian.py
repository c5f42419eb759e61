"""DP-SGD's cost: the Poisson-subsampled Gaussian mechanism in Renyi DP.

Each DP-SGD step clips per-example gradients to norm ``C``, sums a Poisson sample
(rate ``q``) of them and adds ``N(0, (z C)^2)``; ``steps`` such steps compose. The RDP
curve is Mironov, Talwar and Zhang, "Renyi Differential Privacy of the Sampled Gaussian
Mechanism" (2019), computed by Opacus (``opacus.accountants.analysis.rdp.compute_rdp``)
on :data:`~dpquilt.privacy.conversions.RDP_ORDERS`. The accountant composes it with the
marginal path's zCDP (``rho alpha``) and converts the sum to (epsilon, delta).
"""

from __future__ import annotations

from .accountant import Accountant, Expenditure
from .conversions import RDP_ORDERS

__all__ = ["noise_multiplier_for", "rdp_of_subsampled_gaussian", "spend_dpsgd"]


def rdp_of_subsampled_gaussian(noise_multiplier: float, sample_rate: float, steps: int) -> tuple[float, ...]:
    """RDP curve of ``steps`` Poisson-subsampled Gaussian steps, on ``RDP_ORDERS``.

    Examples
    --------
    >>> curve = rdp_of_subsampled_gaussian(1.0, 0.01, 100)  # doctest: +SKIP
    """
    if not noise_multiplier > 0:
        raise ValueError(f"noise_multiplier must be > 0, got {noise_multiplier!r}")
    if not 0 < sample_rate <= 1:
        raise ValueError(f"sample_rate must lie in (0, 1], got {sample_rate!r}")
    if not (isinstance(steps, int) and steps >= 0):
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    try:
        from opacus.accountants.analysis.rdp import compute_rdp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("DP-SGD accounting needs Opacus: pip install 'dpquilt[diffusion]'") from exc
    curve = compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=steps, orders=list(RDP_ORDERS))
    return tuple(float(c) for c in curve)


def spend_dpsgd(
    what: str, noise_multiplier: float, sample_rate: float, steps: int, accountant: Accountant
) -> None:
    """Record ``steps`` DP-SGD steps in ``accountant`` (refused if they do not fit).

    Examples
    --------
    >>> from dpquilt.privacy import Accountant
    >>> acc = Accountant(3.0, 1e-6)
    >>> spend_dpsgd("denoiser", noise_multiplier=1.0, sample_rate=0.01, steps=1000, accountant=acc)
    >>> 0 < acc.epsilon_spent() <= 3.0
    True
    """
    accountant.spend(
        Expenditure(
            what,
            f"subsampled Gaussian (q={sample_rate:.3g}, {steps} steps)",
            float(noise_multiplier),
            0.0,
            rdp=rdp_of_subsampled_gaussian(noise_multiplier, sample_rate, steps),
        )
    )


def noise_multiplier_for(accountant: Accountant, sample_rate: float, steps: int, reserve_rho: float = 0.0) -> float:
    """Smallest noise multiplier whose DP-SGD steps fit what is left of ``accountant``.

    ``reserve_rho`` is zCDP budget still to be spent afterwards (e.g. the marginal
    path's share); the steps must leave room for it. Found by bisection on the
    (monotone) epsilon of the composed RDP curve, to 0.1% of the multiplier.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant
    >>> acc = Accountant(3.0, 1e-6)
    >>> z = noise_multiplier_for(acc, sample_rate=0.01, steps=1000)
    >>> spend_dpsgd("denoiser", z, 0.01, 1000, acc)
    >>> 2.99 < acc.epsilon_spent() <= 3.0
    True
    """
    base = accountant.rdp_curve() or (0.0,) * len(RDP_ORDERS)
    rho = accountant.rho_spent + reserve_rho
    delta_left = accountant.delta - accountant.delta_spent_approx

    def fits(z: float) -> bool:
        curve = [b + c for b, c in zip(base, rdp_of_subsampled_gaussian(z, sample_rate, steps))]
        return accountant._epsilon_with(rho, curve, delta_left) <= accountant.epsilon

    lo, hi = 0.05, 1.0
    while not fits(hi):
        lo, hi = hi, hi * 2.0
        if hi > 1e6:
            raise ValueError("no noise multiplier fits: the budget is spent; lower reserve_rho or raise epsilon")
    while hi - lo > 1e-3 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi
