"""Each silo learns the facts its columns lack, with DP, on its own machine.

Users rarely have a complete public schema of a raw table (every category list, bound
and bin). In a central fit ``MarginalSynthesizer`` learns what is missing with a
``schema_share`` of the budget; across silos each silo does the same for its own columns
on its own rows: silo ``i`` of ``k`` spends ``rho_i = share * rho / k`` and
``delta_i = SCHEMA_DELTA_SHARE * delta / k`` (an even split, known to every party
before any row is read), and announces to every party the facts it learned, its ledger
lines and the noisy counts it released (all DP outputs). The coordinator replays every
silo's lines into the fit's one accountant, which then holds the whole fit's cost (the
silos' columns describe the same people, so their costs add up), and merges the
released counts into the 1-way measurements, as the central fit does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ...marginals.mst import pair_sigma
from ...privacy.accountant import Accountant, Expenditure
from ...privacy.noise import NoiseSource
from ...schema import Schema
from ...schema.learning import SCHEMA_DELTA_SHARE, facts_to_learn, learn_schema_with_releases, merge_specs
from ...schema.releases import CountRelease
from .alignment import SiloInputError

__all__ = ["SchemaPlan", "SiloSchema", "assemble_schema", "learn_silo_schema", "own_hint", "public_facts"]


@dataclass(frozen=True)
class SchemaPlan:
    """The fit's budget and the share of it the silos' schema learning may spend.

    Examples
    --------
    >>> plan = SchemaPlan(epsilon=1.0, delta=1e-9, share=0.1, silos=2)
    >>> rho, delta = plan.silo_budget()
    >>> round(rho / plan.total_rho(), 3), float(f"{delta:.3g}")
    (0.05, 5e-11)
    """

    epsilon: float
    delta: float
    share: float = 0.1
    silos: int = 2

    def total_rho(self) -> float:
        """The zCDP budget of ``(epsilon, delta)`` once the schema's delta is set aside."""
        return Accountant(self.epsilon, self.delta).remaining_rho(extra_delta=SCHEMA_DELTA_SHARE * self.delta)

    def silo_budget(self) -> tuple[float, float]:
        """``(rho_i, delta_i)``: one silo's schema budget."""
        return self.share * self.total_rho() / self.silos, SCHEMA_DELTA_SHARE * self.delta / self.silos


@dataclass(frozen=True)
class SiloSchema:
    """What a silo announces after learning: facts, ledger lines and released counts (all DP or public)."""

    facts: Mapping[str, Any]
    ledger: tuple[Expenditure, ...]
    releases: tuple[CountRelease, ...]


def learn_silo_schema(
    frame: pd.DataFrame,
    hint: Schema | None,
    plan: SchemaPlan,
    total_columns: int,
    noise: NoiseSource,
) -> SiloSchema:
    """The complete schema of a silo's columns, learned with DP within the silo's share.

    Parameters
    ----------
    frame : DataFrame
        The silo's aligned rows (its columns only; private).
    hint : Schema, optional
        The public facts of these columns the users gave (``None``: none).
    plan : SchemaPlan
    total_columns : int
        Every silo's columns together (public): sizes learned bins for MST's noise
        (:func:`~dpquilt.marginals.mst.pair_sigma`).
    noise : NoiseSource

    Examples
    --------
    >>> import numpy as np
    >>> from dpquilt.privacy import SeededNoise
    >>> frame = pd.DataFrame({"plan": ["basic"] * 3000 + ["gold"] * 2000})
    >>> learned = learn_silo_schema(frame, None, SchemaPlan(1.0, 1e-9), 4, SeededNoise(np.random.default_rng(0)))
    >>> learned.facts["plan"]["categories"], [e.what for e in learned.ledger]
    (['basic', 'gold'], ["kind of 'plan' (value classes)", "categories of 'plan'"])
    """
    specs = merge_specs(frame, hint)
    if not facts_to_learn(specs):
        return SiloSchema(specs.to_dict(), (), ())
    rho, delta = plan.silo_budget()
    local = Accountant(plan.epsilon, plan.delta, secure=noise.secure)
    sigma = pair_sigma(plan.total_rho() * (1.0 - plan.share), total_columns)
    schema, releases = learn_schema_with_releases(frame, specs, rho, delta, local, noise, sigma)
    return SiloSchema(schema.to_dict(), tuple(local.ledger), tuple(releases))


def public_facts(schema: Schema | Mapping[str, Any] | None) -> dict[str, Any]:
    """The public facts users gave, as plain data (``Schema.to_dict`` form; ``{}`` for none).

    Examples
    --------
    >>> public_facts({"plan": {"categories": ["basic"]}})["plan"]["categories"]
    ['basic']
    """
    if schema is None:
        return {}
    if not isinstance(schema, (Schema, Mapping)):
        raise SiloInputError(f"schema must be a Schema, a dict of column facts or None, got {type(schema).__name__}")
    return (schema if isinstance(schema, Schema) else Schema.from_public(schema)).to_dict()


def own_hint(facts: Mapping[str, Any], columns: Sequence[str]) -> Schema | None:
    """The facts of one silo's ``columns`` (``None`` when users gave none of them).

    Examples
    --------
    >>> own_hint({"a": {"categories": [1]}, "b": {"categories": [2]}}, ["b"]).names
    ('b',)
    """
    own = {c: facts[c] for c in columns if c in facts}
    return Schema.from_public(own) if own else None


def assemble_schema(
    names: Sequence[str], learned: Sequence[SiloSchema]
) -> tuple[Schema, tuple[Expenditure, ...], tuple[CountRelease, ...]]:
    """Every silo's learned facts as one schema (columns in ``names``' order), with their ledger lines and releases.

    Examples
    --------
    >>> a = SiloSchema({"x": {"categories": ["u"]}}, (), ())
    >>> b = SiloSchema({"y": {"categories": ["v"]}}, (), ())
    >>> assemble_schema(["y", "x"], [a, b])[0].names
    ('y', 'x')
    """
    facts = {c: f for silo in learned for c, f in silo.facts.items()}
    return (Schema.from_public({c: facts[c] for c in names}), tuple(e for silo in learned for e in silo.ledger),
            tuple(r for silo in learned for r in silo.releases))
