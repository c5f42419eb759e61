"""DP-SGD's cost: the Poisson-subsampled Gaussian mechanism in Renyi DP.

Each DP-SGD step clips per-example gradients to norm ``C``, sums a Poisson sample
(rate ``q``) of them and adds ``N(0, (z C)^2)``; ``steps`` such steps compose. The RDP
curve is Mironov, Talwar and Zhang, "Renyi Differential Privacy of the Sampled Gaussian
Mechanism" (2019), computed by Opacus (``opacus.accountants.analysis.rdp.compute_rdp``)
on :data:`~dpquilt.privacy.conversions.RDP_ORDERS`. The accountant composes it with the
marginal path's zCDP (``rho alpha``) and converts the sum to (epsilon, delta).
"""

from __future__ import annotations

from collections.abc import Sequence

from .accountant import Accountant, Expenditure
from .conversions import RDP_ORDERS, epsilons_per_order

ORDER_WINDOW = 6  # orders searched either side of the best one (see noise_multiplier_for)

__all__ = ["noise_multiplier_for", "rdp_of_subsampled_gaussian", "spend_dpsgd"]


def rdp_of_subsampled_gaussian(
    noise_multiplier: float, sample_rate: float, steps: int, orders: Sequence[float] = RDP_ORDERS
) -> tuple[float, ...]:
    """RDP curve of ``steps`` Poisson-subsampled Gaussian steps, on ``orders`` (default ``RDP_ORDERS``).

    Examples
    --------
    Without subsampling (``q = 1``) it is the Gaussian's ``steps * alpha / (2 z^2)``:

    >>> [round(r, 9) for r in rdp_of_subsampled_gaussian(2.0, 1.0, 10, orders=[2.0, 8.0])]
    [2.5, 10.0]
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
    curve = compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=steps, orders=list(orders))
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

    The bisection evaluates the curve only on the ``2 * ORDER_WINDOW + 1`` orders
    around the best order (Opacus's fractional orders cost about 8 ms each): epsilon
    on fewer orders is a minimum over fewer terms, so never smaller, and a multiplier
    that fits on the window fits on every order. The answer is then checked on all
    orders; if its best order lies at the window's edge the search repeats around it.

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

    def epsilon_and_best_order(z: float, window: Sequence[int]) -> tuple[float, int]:
        orders = [RDP_ORDERS[i] for i in window]
        steps_curve = rdp_of_subsampled_gaussian(z, sample_rate, steps, orders)
        per_order = epsilons_per_order([rho * a + base[i] + c for a, i, c in zip(orders, window, steps_curve)],
                                       delta_left, orders)
        best = min(range(len(window)), key=per_order.__getitem__)
        return max(0.0, per_order[best]), window[best]

    def fits_on(window: Sequence[int]):
        return lambda z: epsilon_and_best_order(z, window)[0] <= accountant.epsilon

    everything = range(len(RDP_ORDERS))
    lo, hi = 0.05, 1.0
    eps, best = epsilon_and_best_order(hi, everything)
    while eps > accountant.epsilon:
        lo, hi = hi, hi * 2.0
        if hi > 1e6:
            raise ValueError("no noise multiplier fits: the budget is spent; lower reserve_rho or raise epsilon")
        eps, best = epsilon_and_best_order(hi, everything)
    searched: set[int] = set()
    while True:  # hi fits on every window that holds its best order, so each bisection is bracketed
        window = range(max(0, best - ORDER_WINDOW), min(len(RDP_ORDERS), best + ORDER_WINDOW + 1))
        searched.add(best)
        z = _smallest_fitting(fits_on(window), lo, hi)
        best = epsilon_and_best_order(z, everything)[1]
        inside = window.start == 0 or best > window.start
        inside = inside and (window.stop == len(RDP_ORDERS) or best < window.stop - 1)
        if inside or best in searched:
            return z
        hi = z


def _smallest_fitting(fits, lo: float, hi: float) -> float:
    """Smallest multiplier in ``(lo, hi]`` with ``fits`` (monotone; ``hi`` fits), by bisection to 0.1%."""
    while hi - lo > 1e-3 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi
