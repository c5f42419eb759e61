"""The Flower ClientApp: count this client's rows, add a noise share, send through SecAgg+."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np
from flwr.app import Context
from flwr.client import NumPyClient
from flwr.clientapp import ClientApp
from flwr.client.mod import secaggplus_mod

from ..privacy.noise import NoiseSource, SecureNoise, SeededNoise
from ..schema.dataset import Dataset
from .masks import install_secure_masks
from .protocol import Request, client_reply

__all__ = ["make_client_app", "secure_masks_mod"]

DataLoader = Callable[[Context], Dataset]


def secure_masks_mod(msg, context, call_next):
    """A Flower mod that puts :func:`~dpquilt.federation.masks.secure_masks` in place first.

    :func:`make_client_app` places it before Flower's ``secaggplus_mod``; pass it
    first in ``mods`` when building a ClientApp of your own::

        from flwr.client.mod import secaggplus_mod
        from flwr.clientapp import ClientApp

        app = ClientApp(client_fn=my_client_fn, mods=[secure_masks_mod, secaggplus_mod])
    """
    install_secure_masks()
    return call_next(msg, context)


class _MarginalClient(NumPyClient):
    def __init__(self, data: Dataset, noise_for: Callable[[str], NoiseSource], node_key: int, reply_hook=None) -> None:
        self.data = data
        self.noise_for = noise_for
        self.node_key = node_key
        self.reply_hook = reply_hook

    def fit(self, parameters, config):
        request = Request.from_wire(config, parameters)
        vector = client_reply(request, self.data, self.noise_for(request.label), int(config["dpquilt.bound"]))
        if self.reply_hook is not None:
            vector = self.reply_hook(vector, request, self.node_key)
        return [vector.astype(np.float64)], 1, {}  # weight 1: SecAgg+ then averages the plain vectors


def make_client_app(
    load: DataLoader,
    seed: int | Callable[[Context], int | None] | None = None,
    mods: Sequence = (),
    reply_hook: Callable[[np.ndarray, Request, int], np.ndarray] | None = None,
) -> ClientApp:
    """A ClientApp that answers dpquilt requests from the rows ``load(context)`` returns.

    Parameters
    ----------
    load : callable
        ``load(context) -> Dataset``: this client's rows encoded with the public schema
        (called once per process and node, then cached).
    seed : int or callable, optional
        ``None`` (default) draws noise from OpenDP's secure sampler. An int makes each
        client's noise reproducible from ``(seed, node, request label)``: for tests
        and research only, not for release. A callable ``seed(context)`` decides per
        node (e.g. from its node config).
    mods : sequence of Flower mods
        Extra mods placed outside SecAgg+ (e.g. logging).
    reply_hook : callable, optional
        ``reply_hook(vector, request, node_key)`` replaces the reply vector before it is
        masked (fault injection in tests).

    Examples
    --------
    >>> rows = Dataset({"a": np.array([0, 1, 1])}, {"a": 2})  # this client's encoded rows
    >>> app = make_client_app(lambda context: rows)  # secure noise; SecAgg+ and secure masks as mods
    >>> type(app).__name__
    'ClientApp'
    """
    cache: dict[int, Dataset] = {}

    def noise_factory(node_seed: int | None, node_key: int) -> Callable[[str], NoiseSource]:
        if node_seed is None:
            return lambda label: SecureNoise()
        return lambda label: SeededNoise(np.random.default_rng([node_seed, node_key, zlib.crc32(label.encode())]))

    def client_fn(context: Context):
        key = int(context.node_config.get("partition-id", context.node_id))
        if key not in cache:
            cache[key] = load(context)
        node_seed = seed(context) if callable(seed) else seed
        return _MarginalClient(cache[key], noise_factory(node_seed, key), key, reply_hook).to_client()

    return ClientApp(client_fn=client_fn, mods=[secure_masks_mod, *mods, secaggplus_mod])
