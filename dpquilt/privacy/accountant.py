"""The one accountant: a budget in (epsilon, delta), a ledger, and a report.

Every read of private data in dpquilt is a mechanism that declares its cost as
approximate zero-concentrated DP ``(rho, delta_i)`` ([BS16] Definition 8.1) and spends
it here. Costs compose additively: ``rho = sum rho_i``, ``delta_a = sum delta_i``.
The guarantee of the whole ledger is ``(epsilon_from_rho(rho, delta - delta_a),
delta)``-DP, by [CKS20] Corollary 13 applied to the pure-zCDP part. ``spend`` refuses
any expenditure that would take this epsilon above the budget.

The privacy unit is one row added to or removed from the table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .conversions import RDP_ORDERS, epsilon_from_rdp, epsilon_from_rho, rho_from_epsilon_delta

__all__ = ["Accountant", "BudgetExceededError", "CURATOR_NOTICE", "Expenditure", "PrivacyReport"]

_RELATIVE_SLACK = 1e-9  # floating-point slack when a plan spends exactly its budget


class BudgetExceededError(ValueError):
    """Raised when a mechanism asks for more budget than is left."""


@dataclass(frozen=True)
class Expenditure:
    """One line of the ledger.

    Parameters
    ----------
    what : str
        What private fact was read, e.g. ``"marginal ('age', 'sex')"``.
    mechanism : str
        E.g. ``"discrete Gaussian"``, ``"exponential mechanism"``.
    noise_scale : float
        The mechanism's noise parameter (sigma of the Gaussian, Gumbel scale, ...).
    rho : float
        zCDP cost.
    delta : float, default 0
        The additive delta of approximate zCDP (non-zero only for mechanisms over
        an unknown domain, such as thresholded category counts).
    sensitivity : float, default 1
        The declared sensitivity of the query under add/remove-one-row.
    rdp : tuple of float, optional
        For mechanisms accounted in Renyi DP (subsampled Gaussian DP-SGD): the RDP
        curve on :data:`~dpquilt.privacy.conversions.RDP_ORDERS`; ``rho`` is then 0.

    Examples
    --------
    >>> e = Expenditure("marginal ('age',)", "discrete Gaussian", noise_scale=10.0, rho=0.005)
    >>> e.rho == 0.5 / e.noise_scale**2  # a count of sensitivity 1: rho = 1 / (2 sigma^2)
    True
    """

    what: str
    mechanism: str
    noise_scale: float
    rho: float
    delta: float = 0.0
    sensitivity: float = 1.0
    rdp: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.rho >= 0:
            raise ValueError(f"Expenditure {self.what!r}: rho must be >= 0, got {self.rho!r}")
        if self.rdp is not None:
            object.__setattr__(self, "rdp", tuple(float(r) for r in self.rdp))
            if len(self.rdp) != len(RDP_ORDERS) or min(self.rdp) < 0 or self.rho != 0:
                raise ValueError(
                    f"Expenditure {self.what!r}: an RDP curve needs {len(RDP_ORDERS)} non-negative values "
                    "(one per RDP_ORDERS) and rho=0"
                )
        if not 0 <= self.delta < 1:
            raise ValueError(f"Expenditure {self.what!r}: delta must lie in [0, 1), got {self.delta!r}")


#: What every report says about the curator's diagnostics (the same words whatever the data).
CURATOR_NOTICE = (
    "diagnostics for the data curator (values clipped to bounds, values mapped to 'other', values that did not "
    "parse, training losses) are not differentially private; they are kept apart (the synthesizer's "
    "curator_notes_, the log, dpquilt synth --curator-log FILE) and are not part of this release"
)


@dataclass(frozen=True)
class PrivacyReport:
    """What was spent: the budget, every expenditure, and the totals.

    ``notes`` are public facts about how the release was made (where the noise came
    from, how a federated sum was formed); like everything else here they depend on
    the data only through DP outputs. Diagnostics for the data curator (how many values
    were clipped to public bounds, that unlisted values were mapped to ``other``,
    training losses) are not DP and never enter a report: synthesizers keep them in
    ``curator_notes_`` and the log (``dpquilt synth --curator-log FILE``), and every
    report says so (:data:`CURATOR_NOTICE`).

    Examples
    --------
    >>> acc = Accountant(epsilon=1.0, delta=1e-9, secure=False)
    >>> acc.spend(Expenditure("row count", "discrete Gaussian", 20.0, rho=0.00125))
    >>> report = acc.report()
    >>> report.randomness, len(report.expenditures), report.to_dict()["privacy_unit"]
    ('seeded: not for release', 1, 'one row added or removed')
    """

    epsilon_budget: float
    delta_budget: float
    rho_spent: float
    delta_spent_approx: float
    epsilon_spent: float
    secure: bool
    expenditures: tuple[Expenditure, ...]
    notes: tuple[str, ...] = ()

    @property
    def randomness(self) -> str:
        if self.secure:
            return "secure (OpenDP, cryptographically secure source)"
        return "seeded: not for release"

    def to_dict(self) -> dict:
        """Plain data (JSON-friendly): every field, the randomness and the privacy unit."""
        out = asdict(self)
        out["expenditures"] = [
            {k: v for k, v in asdict(e).items() if not (k == "rdp" and v is None)} for e in self.expenditures
        ]
        out["notes"] = list(self.notes)
        out["curator_notes"] = CURATOR_NOTICE
        out["randomness"] = self.randomness
        out["privacy_unit"] = "one row added or removed"
        return out

    def to_json(self, indent: int = 2) -> str:
        """:meth:`to_dict` as a JSON string (what ``dpquilt`` writes next to a synthetic table)."""
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        lines = [
            f"Privacy report: ({self.epsilon_spent:.4g}, {self.delta_budget:.3g})-DP spent of a "
            f"({self.epsilon_budget:.4g}, {self.delta_budget:.3g}) budget; unit: one row added or removed",
            f"randomness: {self.randomness}",
            f"zCDP rho spent {self.rho_spent:.6g}; approximate-zCDP delta {self.delta_spent_approx:.3g}",
            f"{'what':<44} {'mechanism':<28} {'noise':>10} {'rho':>11} {'delta':>9}",
        ]
        for e in self.expenditures:
            cost = "RDP curve" if e.rdp is not None else f"{e.rho:.4g}"
            lines.append(f"{e.what[:44]:<44} {e.mechanism[:28]:<28} {e.noise_scale:>10.4g} {cost:>11} {e.delta:>9.2g}")
        lines.extend(f"note: {n}" for n in self.notes)
        lines.append(f"curator notes: {CURATOR_NOTICE}")
        return "\n".join(lines)


@dataclass
class Accountant:
    """Budget ledger for one synthesis run.

    Parameters
    ----------
    epsilon, delta : float
        The total (epsilon, delta)-DP budget; ``epsilon > 0`` and ``0 < delta < 1``.
    secure : bool, default True
        Whether the noise comes from a secure source; a seeded run is reported as
        "seeded: not for release".

    Examples
    --------
    >>> acc = Accountant(epsilon=1.0, delta=1e-9)
    >>> round(acc.rho_budget, 6)
    0.014973
    >>> acc.spend(Expenditure("count", "discrete Gaussian", 20.0, rho=0.00125))
    >>> round(acc.remaining_rho(), 6)
    0.013723
    """

    epsilon: float
    delta: float
    secure: bool = True
    _ledger: list[Expenditure] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.epsilon, (int, float)) and self.epsilon > 0):
            raise ValueError(f"epsilon must be > 0, got {self.epsilon!r}; pass a positive budget such as epsilon=1.0")
        if not (isinstance(self.delta, (int, float)) and 0 < self.delta < 1):
            raise ValueError(f"delta must lie in (0, 1), got {self.delta!r}; a common choice is delta=1e-9")

    @property
    def rho_budget(self) -> float:
        """rho of the whole budget when no approximate-zCDP delta is spent."""
        return rho_from_epsilon_delta(self.epsilon, self.delta)

    @property
    def ledger(self) -> tuple[Expenditure, ...]:
        return tuple(self._ledger)

    @property
    def rho_spent(self) -> float:
        return sum(e.rho for e in self._ledger)

    @property
    def delta_spent_approx(self) -> float:
        return sum(e.delta for e in self._ledger)

    def rdp_curve(self) -> tuple[float, ...] | None:
        """Sum of the RDP curves in the ledger (``None`` when there are none)."""
        curves = [e.rdp for e in self._ledger if e.rdp is not None]
        return tuple(map(sum, zip(*curves))) if curves else None

    def _epsilon_with(self, rho: float, curve, delta_left: float) -> float:
        """epsilon of ``rho``-zCDP composed with an RDP ``curve`` (zCDP is RDP ``rho alpha``)."""
        if curve is None:
            return epsilon_from_rho(rho, delta_left)
        return epsilon_from_rdp([rho * a + r for a, r in zip(RDP_ORDERS, curve)], delta_left)

    def remaining_rho(self, extra_delta: float = 0.0) -> float:
        """rho still available, after reserving ``extra_delta`` for an approximate mechanism.

        With RDP curves in the ledger (DP-SGD), the largest ``rho`` whose composition
        with them stays within epsilon, by bisection on the RDP conversion.
        """
        delta_left = self.delta - self.delta_spent_approx - extra_delta
        if delta_left <= 0:
            return 0.0
        ceiling = rho_from_epsilon_delta(self.epsilon, delta_left)
        curve = self.rdp_curve()
        if curve is None:
            return max(0.0, ceiling - self.rho_spent)
        spent = self.rho_spent
        if self._epsilon_with(spent, curve, delta_left) > self.epsilon:
            return 0.0
        lo, hi = 0.0, ceiling
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if self._epsilon_with(spent + mid, curve, delta_left) <= self.epsilon else (lo, mid)
        return lo

    def epsilon_spent(self) -> float:
        """epsilon of the ledger at the budget's delta ([CKS20] Corollary 13; with RDP
        curves, [BBGHS20] Theorem 21 on :data:`RDP_ORDERS`)."""
        delta_left = self.delta - self.delta_spent_approx
        return self._epsilon_with(self.rho_spent, self.rdp_curve(), delta_left)

    def spend(self, expenditure: Expenditure) -> None:
        """Record an expenditure, or raise :class:`BudgetExceededError` if it does not fit."""
        if expenditure.rdp is not None:
            self._spend_rdp(expenditure)
            return
        available = self.remaining_rho(extra_delta=expenditure.delta)
        if expenditure.rho > available * (1 + _RELATIVE_SLACK) + 1e-15:
            raise BudgetExceededError(
                f"cannot spend rho={expenditure.rho:.6g} (delta={expenditure.delta:.3g}) on "
                f"{expenditure.what!r}: only rho={available:.6g} is left of the ({self.epsilon}, {self.delta}) "
                f"budget; raise epsilon or measure less"
            )
        self._ledger.append(expenditure)

    def _spend_rdp(self, expenditure: Expenditure) -> None:
        delta_left = self.delta - self.delta_spent_approx - expenditure.delta
        current = self.rdp_curve() or (0.0,) * len(RDP_ORDERS)
        curve = tuple(a + b for a, b in zip(current, expenditure.rdp))
        eps = self._epsilon_with(self.rho_spent, curve, delta_left) if delta_left > 0 else float("inf")
        if eps > self.epsilon * (1 + _RELATIVE_SLACK):
            raise BudgetExceededError(
                f"cannot spend {expenditure.what!r} ({expenditure.mechanism}): the ledger would reach "
                f"epsilon={eps:.4g} of the ({self.epsilon}, {self.delta}) budget; raise the noise or take fewer steps"
            )
        self._ledger.append(expenditure)

    def mark_not_secure(self) -> None:
        """Some party's noise was seeded (e.g. a federated client started with a seed).

        From then on the report says "seeded: not for release", whatever the noise
        this process draws itself.

        Examples
        --------
        >>> acc = Accountant(1.0, 1e-9)
        >>> acc.mark_not_secure()
        >>> acc.report().randomness
        'seeded: not for release'
        """
        self.secure = False

    def report(self, notes: tuple[str, ...] = ()) -> PrivacyReport:
        """The ledger as a :class:`PrivacyReport`."""
        return PrivacyReport(
            epsilon_budget=float(self.epsilon),
            delta_budget=float(self.delta),
            rho_spent=self.rho_spent,
            delta_spent_approx=self.delta_spent_approx,
            epsilon_spent=self.epsilon_spent(),
            secure=self.secure,
            expenditures=self.ledger,
            notes=tuple(notes),
        )
