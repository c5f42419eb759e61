"""The Flower apps for a real deployment (SuperLink, SuperNodes, ``flwr run``).

``dpquilt federate server`` and ``dpquilt federate client`` (see :mod:`dpquilt.federation.deploy`)
run these objects:

- ``server_app`` reads its settings from the run config (:class:`~.run_config.RunConfig`:
  schema file and its SHA-256, method, budget, clients, output path), fits MST or AIM
  from secure sums, or the diffusion model by DP-FedAvg (``method="diffusion"``, see
  :mod:`dpquilt.federation.fedavg`), and writes the synthetic table and
  ``<stem>.privacy.json`` beside it;
- ``client_app`` reads the client's table and schema from the node config
  (``data``, ``schema``, optional ``seed``), refuses to answer when its schema is not the
  server's (hash mismatch), and otherwise answers requests as in simulation;
  ``diffusion_client_app`` trains the shared model instead (DP-FedAvg's client).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from flwr.app import Context
from flwr.serverapp import ServerApp

from ..io.files import load, report_path_for, save
from ..schema import Schema
from ..schema.codec import encode
from ..schema.dataset import Dataset
from ..synthesizers.marginal import MarginalSynthesizer
from .client import make_client_app
from .fedavg import DEFAULT_FEDAVG_ROUNDS, make_fedavg_client_app, run_fedavg, schema_digest
from .run_config import UNSET, RunConfig
from .secure_sum import SecureSumSettings
from .secure_fedavg import make_secure_fedavg_client_app
from .secure_fedsgd import DEFAULT_ROUNDS as FEDSGD_ROUNDS
from .server import run_federated_fit

__all__ = ["client_app", "diffusion_client_app", "read_schema", "schema_digest", "secure_diffusion_client_app", "server_app"]

log = logging.getLogger(__name__)

def read_schema(path: str | Path) -> Schema:
    """A complete public schema from a JSON file of column facts (``Schema.to_dict`` format).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "schema.json"
    >>> _ = path.write_text(json.dumps(Schema.from_domain({"a": 2, "b": 3}).to_dict()))
    >>> read_schema(path).domain()
    {'a': 2, 'b': 3}
    """
    schema = Schema.from_public(json.loads(Path(path).read_text()))
    if not schema.complete:
        raise ValueError(f"schema {path} is not complete: give categories, bounds and bins of every column")
    return schema


server_app = ServerApp()


@server_app.main()
def _server_main(grid, context: Context) -> None:
    """The one server app: MST or AIM over SecAgg+ sums, or DP-FedAvg of the diffusion model
    (``method="diffusion"``), as the run config says; then the table and its report."""
    rc = RunConfig.from_wire(context.run_config)
    schema = read_schema(rc.schema)
    if rc.method == "diffusion":
        from ..synthesizers.diffusion import DPSGD_SETTINGS

        fedsgd = rc.algorithm == "fedsgd" and rc.privacy_unit == "record" and bool(rc.secure_updates)  # it runs only so
        rounds = rc.rounds if rc.rounds is not None else FEDSGD_ROUNDS if fedsgd else DEFAULT_FEDAVG_ROUNDS
        eta = rc.server_learning_rate or None  # 0: the default
        sums = SecureSumSettings(rc.clients, rc.max_dropouts, rc.max_colluders, wait_for_clients=rc.wait_for_clients)
        if rc.privacy_unit == "client":
            from .client_level import ClientLevelSettings, run_client_level_fedavg

            level = ClientLevelSettings(clip_norm=rc.clip_norm, local_steps=rc.local_steps)
            synthesizer = run_client_level_fedavg(grid, context, schema, sums, rc.epsilon, rc.delta, rounds,
                                                  DPSGD_SETTINGS, level, rc.seed, eta or 1.0)
        elif fedsgd:
            from .secure_fedsgd import FedSGDSettings, run_secure_fedsgd

            synthesizer = run_secure_fedsgd(grid, context, schema, sums, rc.epsilon, rc.delta, rounds, DPSGD_SETTINGS,
                                            FedSGDSettings(), rc.seed)
        elif rc.secure_updates:
            from .secure_fedavg import run_secure_fedavg

            synthesizer = run_secure_fedavg(grid, context, schema, sums, rc.epsilon, rc.delta, rounds, DPSGD_SETTINGS,
                                            0.01, rc.seed, server_learning_rate=eta)
        else:
            synthesizer = run_fedavg(grid, schema, rc.clients, rc.epsilon, rc.delta, rounds, DPSGD_SETTINGS, 0.01, rc.seed,
                                     server_learning_rate=eta)
    else:
        options = {"rounds": rc.rounds} if rc.rounds is not None else {}
        synthesizer = MarginalSynthesizer(
            epsilon=rc.epsilon, delta=rc.delta, method=rc.method, schema=schema, random_state=rc.seed, verbose=False,
            **options,
        )
        settings = SecureSumSettings(
            rc.clients, rc.max_dropouts, rc.max_colluders, rc.clipping_range, wait_for_clients=rc.wait_for_clients,
        )
        run_federated_fit(grid, context, settings, synthesizer, schema, list(schema.names))
    out = Path(rc.out)
    table = synthesizer.sample(rc.rows, random_state=rc.seed)
    save(table, out)
    report = report_path_for(out)
    report.write_text(synthesizer.privacy_report().to_json())
    log.info("wrote %d rows to %s and the privacy report to %s", len(table), out, report)


def _load_client_rows(context: Context) -> Dataset:
    nc = context.node_config
    schema = read_schema(str(nc["schema"]))
    expected = RunConfig.from_wire(context.run_config).schema_sha256
    if schema_digest(schema) != expected:
        raise ValueError(
            f"this client's schema {nc['schema']} differs from the server's (SHA-256 {schema_digest(schema)[:12]}... "
            f"vs {expected[:12]}...): all parties must use the same public schema file"
        )
    df = load(Path(str(nc["data"])), text=True)  # kinds come from the public schema, not from the values
    return encode(df[list(schema.names)], schema).data


def _client_seed(context: Context) -> int | None:
    seed = int(context.node_config.get("seed", UNSET))  # a SuperNode's own config, not the run's
    return None if seed == UNSET else seed


client_app = make_client_app(_load_client_rows, seed=_client_seed)


def _load_client_frame(context: Context):
    nc = context.node_config
    schema = read_schema(str(nc["schema"]))
    return load(Path(str(nc["data"])), text=True), schema


diffusion_client_app = make_fedavg_client_app(_load_client_frame, seed=_client_seed)
secure_diffusion_client_app = make_secure_fedavg_client_app(_load_client_frame, seed=_client_seed)
