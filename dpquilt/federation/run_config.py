"""A federated run's settings as one value, and its wire format in Flower's run config.

The command line (``dpquilt federate server``), the deployment (:mod:`.deploy`, which writes
the Flower app project and calls ``flwr run --run-config``) and the apps (:mod:`.app`, which
read ``context.run_config``) all go through :class:`RunConfig`, so each key is named once.
Flower's run config is TOML: strings are quoted, and integers that may be unset carry
:data:`UNSET` (TOML has no null).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RunConfig", "UNSET", "diffusion_algorithm"]

#: Run-config value meaning "not set" for integers (TOML has no null).
UNSET = -1
DOUBLE = '"'  # a TOML file's string quote (the command line's --run-config takes single quotes)


@dataclass(frozen=True)
class RunConfig:
    """What the server's apps need to run a federated fit.

    Parameters
    ----------
    schema : str
        Path of the public schema file (JSON), the same for every party.
    schema_sha256 : str
        Its digest (:func:`~dpquilt.federation.fedavg.schema_digest`), checked by every client.
    method : {"mst", "aim", "diffusion"}
    epsilon, delta : float
    clients : int
    max_dropouts, max_colluders : int
        SecAgg+'s tolerance (:class:`~dpquilt.federation.secure_sum.SecureSumSettings`).
    clipping_range : int
        SecAgg+'s quantisation range (a power of two above any client's count).
    wait_for_clients : float
        Seconds the server waits for all clients.
    out : str
        Where the synthetic table goes (its privacy report beside it).
    rows, seed, rounds : int or None
        Rows to sample, a seed (not for release), AIM's or FedAvg's rounds; ``None``: the default.
    secure_updates : int
        ``1`` (default): DP-FedAvg sums the clients' updates under SecAgg+ (:mod:`.secure_fedavg`); ``0``: plain.
    privacy_unit : {"record", "client"}
        DP-FedAvg's unit: record-level DP-SGD on each client, or client-level DP-FedAvg
        (:mod:`.client_level`, with ``clip_norm`` and ``local_steps``).
    server_learning_rate : float
        DP-FedAvg's server step (:func:`~.fedavg.server_step`); ``0``: the default.
    clip_norm, local_steps : float, int
        Client-level DP-FedAvg's :class:`~.client_level.ClientLevelSettings`.
    algorithm : {"fedsgd", "fedavg"}
        Record-level federated diffusion: DP-FedSGD (:mod:`.secure_fedsgd`: the noise
        added once to the secure sum; the default with secure updates) or DP-FedAvg (each
        client's own DP-SGD noise); see :func:`diffusion_algorithm`.

    Examples
    --------
    >>> config = RunConfig("schema.json", "ab12", method="mst", clients=3, seed=7)
    >>> wire = config.to_wire()
    >>> wire["method"], wire["clients"], wire["rows"]
    ("'mst'", '3', '-1')
    >>> flower_view = {"schema": "schema.json", "schema-sha256": "ab12", "method": "mst", "clients": 3, "rows": -1,
    ...                "seed": 7, "rounds": -1, "epsilon": 1.0, "delta": 1e-9}
    >>> RunConfig.from_wire(flower_view) == config
    True
    """

    schema: str
    schema_sha256: str
    method: str = "aim"
    epsilon: float = 1.0
    delta: float = 1e-9
    clients: int = 2
    max_dropouts: int = 0
    max_colluders: int = 0
    clipping_range: int = 2**26
    wait_for_clients: float = 120.0
    out: str = "synth.csv"
    rows: int | None = None
    seed: int | None = None
    rounds: int | None = None
    secure_updates: int = 1
    privacy_unit: str = "record"
    server_learning_rate: float = 0.0
    clip_norm: float = 1.0
    local_steps: int = 50
    algorithm: str = "fedsgd"

    def to_wire(self) -> dict[str, str]:
        """Each field as a ``key=value`` of ``flwr run --run-config`` (TOML literals, dashed keys)."""
        return {_key(f.name): _literal(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_wire(cls, run_config: Mapping[str, Any]) -> RunConfig:
        """The config an app reads from ``context.run_config`` (missing keys take their defaults)."""
        values = {}
        for f in dataclasses.fields(cls):
            key = _key(f.name)
            if key not in run_config:
                continue
            raw = run_config[key]
            default = f.default if f.default is not dataclasses.MISSING else ""
            if f.name in ("rows", "seed", "rounds"):
                values[f.name] = None if int(raw) == UNSET else int(raw)
            else:
                values[f.name] = type(default)(raw) if default != "" else str(raw)
        return cls(**values)

    @classmethod
    def toml_defaults(cls) -> str:
        """The ``[tool.flwr.app.config]`` lines of a Flower app project: every key with its default."""
        defaults = cls(schema="", schema_sha256="")
        return "\n".join(f"{_key(k)} = {_literal(v, quote=DOUBLE)}" for k, v in dataclasses.asdict(defaults).items())


def diffusion_algorithm(algorithm: str | None, privacy_unit: str, secure_updates: bool, fix: str = "") -> str:
    """The federated diffusion's algorithm, checked against its privacy unit and secure sums.

    ``None`` chooses DP-FedSGD (one full-batch DP step a round, the noise added once to
    the secure sum: on diamonds over 3 and 10 clients within 25% of the central model's
    2-way error, ``docs/benchmarks.md``) where it can run, that is at record level with
    secure updates, and DP-FedAvg otherwise.

    Parameters
    ----------
    algorithm : {"fedsgd", "fedavg"} or None
    privacy_unit : {"record", "client"}
    secure_updates : bool
    fix : str
        How to mend a refused combination, in the caller's terms (the command line names
        its flags), appended to the message.

    Raises
    ------
    ValueError
        For an unknown value, client level without secure updates, or DP-FedSGD without
        secure record-level sums.

    Examples
    --------
    >>> diffusion_algorithm(None, "record", True), diffusion_algorithm(None, "record", False)
    ('fedsgd', 'fedavg')
    """
    if privacy_unit not in ("record", "client"):
        raise ValueError(f"privacy_unit must be 'record' or 'client', got {privacy_unit!r}")
    if privacy_unit == "client" and not secure_updates:
        raise ValueError("privacy_unit='client' needs secure updates: the clients' noise shares cancel out only in a "
                         "secure sum" + fix)
    if algorithm is None:
        return "fedsgd" if privacy_unit == "record" and secure_updates else "fedavg"
    if algorithm not in ("fedavg", "fedsgd"):
        raise ValueError(f"algorithm must be 'fedavg' or 'fedsgd', got {algorithm!r}")
    if algorithm == "fedsgd" and (privacy_unit != "record" or not secure_updates):
        raise ValueError("algorithm='fedsgd' adds the noise to the secure sum: it needs record-level privacy and "
                         "secure updates" + fix)
    return algorithm


def _key(name: str) -> str:
    return name.replace("_", "-")


def _literal(value: Any, quote: str = "'") -> str:
    """A value as TOML holds it: strings in ``quote`` (single for ``flwr run --run-config``,
    double in a file), ``None`` as :data:`UNSET`."""
    if value is None:
        return str(UNSET)
    if isinstance(value, str):
        return f"{quote}{value}{quote}"
    return repr(value) if isinstance(value, float) else str(int(value))
