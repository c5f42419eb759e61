"""Cross-silo synthesis: organisations that hold different columns of the same people.

A bank holds account columns and an insurer claims columns for the same customers,
linked by an identifier, and neither may see the other's columns. The privacy unit is
one person: their row across every silo.

- :func:`align_silos` checks each silo's table and lines its rows up in the order of a
  public list of keys (the list's length is the public row count);
- :func:`simulate` fits MST with a coordinator and every silo in its own process, in one
  MPyC session on loopback (:mod:`.party`): a marginal within one silo is counted and
  noised by that silo; a marginal across silos is computed under Shamir secret sharing
  (:mod:`.cross_silo`), every party adding a share of discrete Gaussian noise, and only
  the noisy total is opened, to the coordinator; MST's tree is chosen from noisy
  releases of every pair (:class:`~.oracle.VerticalOracle`);
- :func:`run_requests` runs the protocol's raw steps, for audits and benchmarks;
- :class:`CrossSiloMST` fits :func:`simulate` on one table split by columns, and
  :class:`~.silofuse.SiloFuseSynthesizer` is a SiloFuse-style baseline (per-silo DP
  autoencoders, DP latent diffusion; not private against the coordinator), both for
  ``compare()``.

Threat model: semi-honest parties (they follow the protocol and may study what they
receive), no two of them colluding; the coordinator follows the protocol. A silo learns
nothing but its own rows and, at the end, the synthetic table; the coordinator learns the
noisy marginals MST asks for. Needs the ``vertical`` extra (``pip install
'dpquilt[vertical]'``: MPyC). Not built yet: private set intersection of the keys, AIM
over silos.

Examples
--------
>>> import pandas as pd
>>> from dpquilt.federation.vertical import align_silos
>>> bank = pd.DataFrame({"id": [2, 1], "balance": [50, 10]})
>>> insurer = pd.DataFrame({"id": [1, 2], "claims": [0, 3]})
>>> aligned = align_silos({"bank": bank, "insurer": insurer}, key="id", keys=[1, 2])
>>> aligned.tables["bank"]["balance"].tolist(), aligned.tables["insurer"]["claims"].tolist()
([10, 50], [0, 3])
"""

from .alignment import MAX_SILOS, AlignedSilos, SiloInputError, align_silo, align_silos
from .estimators import CrossSiloMST, split_columns
from .oracle import VerticalOracle
from .party import SiloRequest
from .simulation import RequestsRun, run_requests, simulate

__all__ = [
    "MAX_SILOS",
    "AlignedSilos",
    "CrossSiloMST",
    "RequestsRun",
    "SiloInputError",
    "SiloRequest",
    "SiloFuseSynthesizer",
    "VerticalOracle",
    "align_silo",
    "align_silos",
    "run_requests",
    "simulate",
    "split_columns",
]


def __getattr__(name: str):
    """The SiloFuse-style baseline needs PyTorch (the ``diffusion`` extra): imported on first use."""
    if name == "SiloFuseSynthesizer":
        from .silofuse import SiloFuseSynthesizer

        return SiloFuseSynthesizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
