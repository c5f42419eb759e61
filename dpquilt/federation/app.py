"""The Flower apps for a real deployment (SuperLink, SuperNodes, ``flwr run``).

``dpquilt federate server`` and ``dpquilt federate client`` (see :mod:`dpquilt.federation.deploy`)
run these two objects:

- ``server_app`` reads its settings from the run config (schema file and its SHA-256,
  method, budget, clients, output path), fits from secure sums and writes the
  synthetic table and ``<stem>.privacy.json`` beside it;
- ``client_app`` reads the client's table and schema from the node config
  (``data``, ``schema``, optional ``seed``), refuses to answer when its schema is not the
  server's (hash mismatch), and otherwise answers requests as in simulation;
- ``diffusion_server_app`` / ``diffusion_client_app``: DP-FedAvg of the standalone
  diffusion model (``--method diffusion``; see :mod:`dpquilt.federation.fedavg`).
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
from .fedavg import make_fedavg_client_app, run_fedavg, schema_digest
from .secure_sum import SecureSumSettings
from .server import run_federated_fit

__all__ = ["client_app", "diffusion_client_app", "diffusion_server_app", "read_schema", "schema_digest", "server_app"]

#: FedAvg rounds when the run config leaves ``rounds`` unset.
DEFAULT_FEDAVG_ROUNDS = 5

log = logging.getLogger(__name__)

#: Run-config value meaning "not set" for integers (TOML has no null).
UNSET = -1


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
    rc = context.run_config
    schema = read_schema(str(rc["schema"]))
    seed = int(rc["seed"])
    options = {"rounds": int(rc["rounds"])} if int(rc["rounds"]) != UNSET else {}
    synthesizer = MarginalSynthesizer(
        epsilon=float(rc["epsilon"]), delta=float(rc["delta"]), method=str(rc["method"]), schema=schema,
        random_state=None if seed == UNSET else seed, verbose=False, **options,
    )
    settings = SecureSumSettings(
        int(rc["clients"]), int(rc["max-dropouts"]), int(rc["max-colluders"]), int(rc["clipping-range"]),
        wait_for_clients=float(rc["wait-for-clients"]),
    )
    run_federated_fit(grid, context, settings, synthesizer, schema, list(schema.names))
    _write_outputs(synthesizer, rc, seed)


def _write_outputs(synthesizer, rc, seed: int) -> None:
    out = Path(str(rc["out"]))
    rows = int(rc["rows"])
    table = synthesizer.sample(None if rows == UNSET else rows, random_state=None if seed == UNSET else seed)
    save(table, out)
    report = report_path_for(out)
    report.write_text(synthesizer.privacy_report().to_json())
    log.info("wrote %d rows to %s and the privacy report to %s", len(table), out, report)


diffusion_server_app = ServerApp()


@diffusion_server_app.main()
def _diffusion_server_main(grid, context: Context) -> None:
    from ..diffusion_model.gaussian_diffusion import DDPMSettings

    rc = context.run_config
    schema = read_schema(str(rc["schema"]))
    seed = int(rc["seed"])
    rounds = int(rc["rounds"]) if int(rc["rounds"]) != UNSET else DEFAULT_FEDAVG_ROUNDS
    synthesizer = run_fedavg(
        grid, schema, int(rc["clients"]), float(rc["epsilon"]), float(rc["delta"]), rounds, DDPMSettings(),
        0.01, None if seed == UNSET else seed,
    )
    _write_outputs(synthesizer, rc, seed)


def _load_client_rows(context: Context) -> Dataset:
    nc = context.node_config
    schema = read_schema(str(nc["schema"]))
    expected = str(context.run_config["schema-sha256"])
    if schema_digest(schema) != expected:
        raise ValueError(
            f"this client's schema {nc['schema']} differs from the server's (SHA-256 {schema_digest(schema)[:12]}... "
            f"vs {expected[:12]}...): all parties must use the same public schema file"
        )
    df = load(Path(str(nc["data"])), text=True)  # kinds come from the public schema, not from the values
    return encode(df[list(schema.names)], schema).data


def _client_seed(context: Context) -> int | None:
    seed = int(context.node_config.get("seed", UNSET))
    return None if seed == UNSET else seed


client_app = make_client_app(_load_client_rows, seed=_client_seed)


def _load_client_frame(context: Context):
    nc = context.node_config
    schema = read_schema(str(nc["schema"]))
    return load(Path(str(nc["data"])), text=True), schema


diffusion_client_app = make_fedavg_client_app(_load_client_frame, seed=_client_seed)
