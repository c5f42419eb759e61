"""The federated quantile transform: numeric columns' noisy bin counts summed under SecAgg+.

Every client counts its numeric values in the schema's bins, point masses and missing
code (:func:`~dpquilt.diffusion_model.feature_map.bin_counts`) and adds a discrete Gaussian
share ``N_Z(0, sigma^2 / t)`` (``t``: the honest shares SecAgg+ guarantees); one secure
sum reveals the noisy totals, and every party builds the same piecewise-linear CDFs from
them (:class:`~dpquilt.diffusion_model.feature_map.BinnedCDF`, as the central model
does). Shared by DP-FedAvg (:mod:`.secure_fedavg`) and DP-FedSGD (:mod:`.secure_fedsgd`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..diffusion_model.feature_map import BinnedCDF
from ..privacy.accountant import Accountant
from ..privacy.distributed import party_sigma, sigma_for_distributed_rho
from ..privacy.mechanisms import spend_distributed_gaussian
from ..schema import NumericColumn, Schema

__all__ = ["HistogramRound", "cdfs_from_totals", "federated_transform", "spend_histograms", "transform_sigmas"]


@dataclass(frozen=True)
class HistogramRound:
    """The quantile transform's request: each numeric column's noise share (public)."""

    label: str
    share_sigmas: Mapping[str, float]
    config: Mapping[str, object] = field(default_factory=dict)

    def to_wire(self) -> tuple[dict, list[np.ndarray]]:
        return {**self.config, "dpquilt.kind": "histogram", "dpquilt.label": self.label,
                "dpquilt.share-sigmas": json.dumps(dict(self.share_sigmas))}, []


def transform_sigmas(
    schema: Schema, epsilon: float, delta: float, share: float, honest_shares: int
) -> dict[str, float]:
    """Each numeric column's total noise scale: ``share`` of a client's budget over the columns,
    at the distributed discrete Gaussian's cost with ``honest_shares`` shares.

    Examples
    --------
    >>> schema = Schema.from_public({"x": {"lower": 0, "upper": 10, "bins": 4}, "c": {"categories": ["a"]}})
    >>> list(transform_sigmas(schema, 1.0, 1e-9, 0.05, 2))
    ['x']
    """
    numeric = [c for c in schema.columns if isinstance(c, NumericColumn)]
    if not numeric or share <= 0:
        return {}
    rho = share * Accountant(epsilon, delta).remaining_rho() / len(numeric)
    return {c.name: sigma_for_distributed_rho(rho, honest_shares, 1.0, 1.0, c.size) for c in numeric}


def spend_histograms(accountant: Accountant, sigmas: Mapping[str, float], honest_shares: int, schema: Schema) -> None:
    """Charge the quantile transform's histograms: one distributed discrete Gaussian per column.

    Examples
    --------
    >>> schema = Schema.from_public({"x": {"lower": 0, "upper": 10, "bins": 4}})
    >>> acc = Accountant(1.0, 1e-9)
    >>> spend_histograms(acc, transform_sigmas(schema, 1.0, 1e-9, 0.05, 2), 2, schema)
    >>> round(acc.rho_spent / acc.rho_budget, 6)  # the transform's 5% share
    0.05
    """
    for name, sigma in sigmas.items():
        spend_distributed_gaussian(f"histogram of {name!r} (federated quantile transform)", sigma, honest_shares,
                                   accountant, dimension=schema[name].size)


def federated_transform(secure_sum, schema: Schema, sigmas: Mapping[str, float], honest_shares: int,
                        config: Mapping[str, object]) -> tuple[dict[str, list[float]], bool]:
    """The quantile transform's secure sum: each numeric column's noisy bin counts, summed over
    the clients (each adds its share ``N_Z(0, sigma^2 / t)``), and whether a client was seeded.
    Nothing is asked without ``sigmas`` (no numeric column, or no budget share).

    Examples
    --------
    >>> federated_transform(None, Schema.from_public({"c": {"categories": ["a"]}}), {}, 2, {})
    ({}, False)
    """
    if not sigmas:
        return {}, False
    shares = {name: party_sigma(sigma, honest_shares) for name, sigma in sigmas.items()}
    widths = [schema[n].size for n in sigmas]  # every code of the column: bins, points, missing
    total, _ = secure_sum(HistogramRound("histograms (federated quantile transform)", shares, dict(config)),
                          sum(widths) + 2)  # + seeded flag, check
    parts = np.split(total[:-1], np.cumsum(widths)[:-1])  # the sum's last entry: the seeded flags
    return {name: part.tolist() for name, part in zip(sigmas, parts)}, bool(total[-1] != 0)


def cdfs_from_totals(schema: Schema, totals: Mapping[str, Sequence[float]]) -> dict[str, BinnedCDF]:
    """The same CDFs on every party, from the released totals (post-processing)."""
    return {name: BinnedCDF.from_histogram(schema[name], counts) for name, counts in totals.items()}
