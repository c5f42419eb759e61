"""Federated synthesis: marginals summed across clients under Flower's SecAgg+.

Several organisations hold rows with the same public schema and may not pool them.
Each runs a client on its own rows; the server runs MST or AIM unchanged on a
:class:`~dpquilt.federation.federated_oracle.FederatedOracle`, which asks every client for counts
(or selection scores) plus its share of discrete Gaussian noise and learns only the sum,
formed by SecAgg+ in exact integer mode. Needs the ``federation`` extra
(``pip install 'dpquilt[federation]'``).

>>> import dpquilt as dq
>>> dq.federation.SecureSumSettings(clients=3, max_dropouts=1).honest_shares
2
"""

from .masks import install_secure_masks, secure_masks
from .protocol import MalformedRequestError, Request, client_reply

__all__ = [
    "ClientLevelSettings",
    "FedSGDSettings",
    "FederatedOracle",
    "MalformedReplyError",
    "MalformedRequestError",
    "Request",
    "SecureAggregationError",
    "SecureSumSettings",
    "client_reply",
    "install_secure_masks",
    "make_client_app",
    "run_federated_fit",
    "secure_masks",
    "simulate",
    "vertical",
]

_LAZY = {
    "ClientLevelSettings": ".client_level",
    "FedSGDSettings": ".secure_fedsgd",
    "FederatedOracle": ".federated_oracle",
    "MalformedReplyError": ".secure_sum",
    "SecureAggregationError": ".secure_sum",
    "SecureSumSettings": ".secure_sum",
    "make_client_app": ".client",
    "run_federated_fit": ".server",
    "simulate": ".simulation",
}
#: cross-silo synthesis (silos with different columns of the same people): MPyC, not Flower
_SUBPACKAGES = {"vertical": ".vertical"}


def __getattr__(name: str):
    """Import the Flower-backed parts on first use, so ``import dpquilt`` needs no Flower."""
    if name in _SUBPACKAGES:
        from importlib import import_module

        return import_module(_SUBPACKAGES[name], __name__)
    if name in _LAZY:
        from importlib import import_module

        try:
            module = import_module(_LAZY[name], __name__)
        except ImportError as exc:
            raise ImportError(
                f"dpquilt.federation.{name} needs Flower: pip install 'dpquilt[federation]' ({exc})"
            ) from exc
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
