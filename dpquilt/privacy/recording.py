"""White-box checks of noise: every draw at the scale its ledger entry paid for.

A mechanism that charges for noise of scale ``sigma`` but draws at ``sigma / 2``, or
draws without charging, passes every test that looks only at the ledger or only at
the output's accuracy. :class:`RecordingNoise` wraps a noise source and notes each
draw's kind and scale (and the noisy answer, for audits); :func:`ledger_mismatches`
pairs the draws with the ledger's entries, in order, and lists every disagreement:

* one draw per entry, of the entry's kind (discrete Gaussian or Gumbel);
* the draw's scale equals the entry's ``noise_scale``;
* the entry's cost is the cost of that scale at its declared sensitivity
  (``rho = Delta^2 / (2 sigma^2)`` for the Gaussian, [CKS20] Theorem 4;
  ``rho = epsilon^2 / 8`` with ``epsilon = 2 Delta / scale`` for the exponential
  mechanism, [CR21] Lemma 3.2);
* the declared sensitivity is the one the property tests verify (``sensitivities``).

Entries with an RDP curve (DP-SGD) draw their noise in PyTorch and are checked apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .accountant import Expenditure
from .noise import NoiseSource

__all__ = ["Draw", "RecordingNoise", "ledger_mismatches"]


@dataclass(frozen=True)
class Draw:
    """One call of a noise source: its kind, scale, size and noisy answer.

    Examples
    --------
    >>> Draw("discrete Gaussian", 2.0, 3).kind
    'discrete Gaussian'
    """

    kind: str
    scale: float
    size: int
    answer: np.ndarray | int | None = None


@dataclass
class RecordingNoise:
    """A :class:`~dpquilt.privacy.noise.NoiseSource` that notes every draw of ``inner``.

    Examples
    --------
    >>> from dpquilt.privacy.noise import SeededNoise
    >>> noise = RecordingNoise(SeededNoise(np.random.default_rng(0)))
    >>> _ = noise.discrete_gaussian(np.zeros(4, dtype=int), 3.0)
    >>> [(d.kind, d.scale, d.size) for d in noise.draws]
    [('discrete Gaussian', 3.0, 4)]
    """

    inner: NoiseSource
    draws: list[Draw] = field(default_factory=list)

    @property
    def secure(self) -> bool:
        return self.inner.secure

    def discrete_gaussian(self, values: np.ndarray, sigma: float) -> np.ndarray:
        noisy = self.inner.discrete_gaussian(values, sigma)
        self.draws.append(Draw("discrete Gaussian", float(sigma), int(np.size(values)), np.array(noisy)))
        return noisy

    def gumbel_argmax(self, scores: np.ndarray, scale: float) -> int:
        pick = self.inner.gumbel_argmax(scores, scale)
        self.draws.append(Draw("Gumbel", float(scale), int(np.size(scores)), pick))
        return pick


def _kind_of(entry: Expenditure) -> str:
    return "Gumbel" if entry.mechanism == "exponential mechanism" else "discrete Gaussian"


def _cost_of(entry: Expenditure) -> float:
    delta = entry.sensitivity
    if entry.mechanism == "exponential mechanism":
        return (2.0 * delta / entry.noise_scale) ** 2 / 8.0
    return delta**2 / (2.0 * entry.noise_scale**2)


def ledger_mismatches(
    draws: Sequence[Draw],
    ledger: Sequence[Expenditure],
    sensitivities: Callable[[Expenditure], float | None] = lambda entry: None,
) -> list[str]:
    """Every way ``draws`` and the central entries of ``ledger`` disagree (empty: they agree).

    Parameters
    ----------
    draws : sequence of Draw
        From a :class:`RecordingNoise` that every mechanism of one fit used.
    ledger : sequence of Expenditure
        The fit's ledger; entries with an RDP curve are skipped.
    sensitivities : callable
        ``sensitivities(entry)``: the sensitivity the property tests verify for the
        query behind ``entry`` (``None``: not checked).

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> from dpquilt.privacy.mechanisms import gaussian_counts
    >>> acc, noise = Accountant(1.0, 1e-9, secure=False), RecordingNoise(SeededNoise(np.random.default_rng(0)))
    >>> _ = gaussian_counts(np.array([5, 7]), 10.0, "marginal ('a',)", acc, noise)
    >>> ledger_mismatches(noise.draws, acc.ledger)
    []
    >>> _ = noise.discrete_gaussian(np.array([5, 7]), 5.0)  # a draw nobody paid for
    >>> ledger_mismatches(noise.draws, acc.ledger)
    ['2 draws but 1 central ledger entries']
    """
    central = [e for e in ledger if e.rdp is None]
    problems = []
    if len(draws) != len(central):
        problems.append(f"{len(draws)} draws but {len(central)} central ledger entries")
    for i, (draw, entry) in enumerate(zip(draws, central)):
        label = f"entry {i} {entry.what!r}"
        if draw.kind != _kind_of(entry):
            problems.append(f"{label}: a {draw.kind} draw for a {entry.mechanism} entry")
        if not math.isclose(draw.scale, entry.noise_scale, rel_tol=1e-9):
            problems.append(f"{label}: drawn at scale {draw.scale:.6g}, paid for {entry.noise_scale:.6g}")
        if not math.isclose(entry.rho, _cost_of(entry), rel_tol=1e-9):
            problems.append(f"{label}: rho {entry.rho:.6g} is not the cost {_cost_of(entry):.6g} of its scale")
        expected = sensitivities(entry)
        if expected is not None and not math.isclose(entry.sensitivity, expected, rel_tol=1e-12):
            problems.append(f"{label}: sensitivity {entry.sensitivity:g} declared, {expected:g} verified")
    return problems
