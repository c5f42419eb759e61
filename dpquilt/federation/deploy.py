"""Run a federated fit as separate processes on Flower's Deployment Engine.

``run_server`` starts a SuperLink, submits dpquilt's Flower app to it with ``flwr run``
(the run config carries the schema file, its SHA-256, the method and the budget), waits
for the ServerApp to write the synthetic table, and stops the SuperLink and everything it
started. ``run_client`` starts a SuperNode whose ClientApp answers from one table. Both
talk over loopback without TLS (``--insecure``): a real deployment across organisations
needs Flower's TLS certificates and SuperNode authentication (see the README).

Flower's subprocess isolation starts one ClientApp process per message, so a secure sum
takes seconds here rather than the fraction of a second it takes in simulation.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..io.files import report_path_for
from .app import read_schema, schema_digest
from .client_level import ClientLevelSettings
from .fedavg import server_step
from .processes import log_tail, started_process, stop_group
from .run_config import RunConfig, diffusion_algorithm

__all__ = ["run_client", "run_server", "write_flower_app"]

APP_PYPROJECT = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "dpquilt-federated"
version = "1.0.0"
description = "dpquilt: federated DP synthesis over SecAgg+"
license = "Apache-2.0"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "dpquilt"

[tool.flwr.app.components]
serverapp = "dpquilt.federation.app:server_app"
clientapp = "dpquilt.federation.app:client_app"

[tool.flwr.app.config]
"""


def write_flower_app(directory: Path, method: str = "aim", secure_updates: bool = True) -> Path:
    """Write the Flower app project (a ``pyproject.toml`` naming dpquilt's apps) into ``directory``.

    ``method="diffusion"`` names the DP-FedAvg apps (with ``secure_updates``, the client app
    that sums its updates under SecAgg+); MST and AIM use the secure-sum apps.

    Examples
    --------
    >>> import tempfile
    >>> (write_flower_app(Path(tempfile.mkdtemp()), method="mst") / "pyproject.toml").exists()
    True
    """
    directory.mkdir(parents=True, exist_ok=True)
    text = APP_PYPROJECT + RunConfig.toml_defaults() + "\n"
    if method == "diffusion":  # one server app reads the method
        client = "app:secure_diffusion_client_app" if secure_updates else "app:diffusion_client_app"
        text = text.replace("app:client_app", client)
    (directory / "pyproject.toml").write_text(text)
    return directory


def _flower_bin(name: str) -> str:
    """A Flower executable from this Python's environment."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} was not found; install the federation extra: pip install 'dpquilt[federation]'")
    return found


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the SuperLink exited early (code {proc.returncode}); its log:\n{log_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the SuperLink did not open port {port} within {timeout:.0f} s; its log:\n{log_tail(log)}")


def run_server(
    schema: Path,
    clients: int,
    out: Path,
    method: str = "aim",
    epsilon: float = 1.0,
    delta: float = 1e-9,
    rounds: int | None = None,
    rows: int | None = None,
    max_dropouts: int = 0,
    max_colluders: int = 0,
    seed: int | None = None,
    port: int = 9093,
    wait_for_clients: float = 300.0,
    timeout: float = 3600.0,
    workdir: Path | None = None,
    stream: bool = True,
    secure_updates: bool = True,
    privacy_unit: str = "record",
    server_learning_rate: float | None = None,
    client_level: ClientLevelSettings | None = None,
    algorithm: str | None = None,
) -> Path:
    """Coordinate one federated fit and write ``out`` and ``<stem>.privacy.json``.

    Clients connect to ``127.0.0.1:port`` with :func:`run_client` (before or after this
    starts; the server waits ``wait_for_clients`` seconds for all ``clients``).
    ``secure_updates``, ``privacy_unit``, ``server_learning_rate``, ``client_level`` and
    ``algorithm`` apply to ``method="diffusion"`` as in :func:`~.simulation.simulate`.

    Returns
    -------
    Path
        ``out``.

    Examples
    --------
    Three organisations on one machine (each client in its own process or shell; the
    command line's ``dpquilt federate server`` and ``dpquilt federate client`` call these)::

        # organisation 1, 2, 3: run_client(Path("part1.csv"), Path("schema.json"), port=9101), ...
        run_server(Path("schema.json"), clients=3, out=Path("synthetic.csv"), method="aim", epsilon=1.0)
    """
    algorithm = diffusion_algorithm(algorithm, privacy_unit, secure_updates,
                                    " (drop --plain-updates, and --privacy-unit client for --algorithm fedsgd)")
    if server_learning_rate is not None:
        server_step(server_learning_rate, clients)
    level = client_level or ClientLevelSettings()
    schema = Path(schema).resolve()
    digest = schema_digest(read_schema(schema))
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="dpquilt-federate-", dir=workdir) as tmp:
        home = Path(tmp) / "flwr-home"
        home.mkdir()
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "dpquilt"\n\n[superlink.dpquilt]\naddress = "127.0.0.1:{port}"\ninsecure = true\n'
        )
        app = write_flower_app(Path(tmp) / "app", method, secure_updates)
        env = {**os.environ, "FLWR_HOME": str(home)}
        link_log = Path(tmp) / "superlink.log"
        superlink = [_flower_bin("flower-superlink"), "--insecure", "--isolation", "subprocess", "--host", "127.0.0.1",
                     "--port", str(port)]
        with started_process(superlink, link_log, env) as link:
            _wait_for_port(port, link, link_log)
            config = RunConfig(
                str(schema), digest, method, float(epsilon), float(delta), int(clients), int(max_dropouts),
                int(max_colluders), wait_for_clients=float(wait_for_clients), out=str(out), rows=rows, seed=seed,
                rounds=rounds, secure_updates=int(bool(secure_updates)), privacy_unit=privacy_unit,
                server_learning_rate=float(server_learning_rate or 0.0), clip_norm=float(level.clip_norm),
                local_steps=int(level.local_steps), algorithm=algorithm,
            ).to_wire()
            cmd = [_flower_bin("flwr"), "run", str(app), "dpquilt", "--stream",
                   "--run-config", " ".join(f"{k}={v}" for k, v in config.items())]
            result = subprocess.run(cmd, env=env, timeout=timeout, text=True,
                                    stdout=None if stream else subprocess.PIPE, stderr=subprocess.STDOUT)
        report = report_path_for(out)
        if result.returncode != 0 or not out.exists() or out.stat().st_mtime < started or not report.exists():
            raise RuntimeError(
                f"the federated run did not write {out} (flwr run exited with {result.returncode}). "
                f"SuperLink log:\n{log_tail(link_log)}\n{result.stdout or ''}"
            )
    return out


def run_client(data: Path, schema: Path, superlink: str = "127.0.0.1:9093", port: int = 9094,
               seed: int | None = None) -> int:
    """Run a SuperNode for one client's table until it is stopped (SIGTERM or Ctrl-C).

    The table and schema paths are passed to the ClientApp in the node config; the rows
    never leave this process tree except as masked, noisy sums.

    Examples
    --------
    One client per organisation, each with its own port, against the server's SuperLink::

        run_client(Path("part1.csv"), Path("schema.json"), superlink="10.0.0.5:9093", port=9101)

    See :func:`run_server`.
    """
    data, schema = Path(data).resolve(), Path(schema).resolve()
    if not data.exists():
        raise FileNotFoundError(f"client data {data} does not exist")
    read_schema(schema)  # fail early on a bad or incomplete schema
    node_config = f"data='{data}' schema='{schema}'" + (f" seed={int(seed)}" if seed is not None else "")
    cmd = [_flower_bin("flower-supernode"), "--insecure", "--superlink", superlink, "--host", "127.0.0.1",
           "--port", str(port), "--node-config", node_config]
    proc = subprocess.Popen(cmd, start_new_session=True)

    def stop(signum, frame):  # noqa: ARG001
        # Only unwind here: waiting inside the handler would deadlock on the Popen lock
        # that the interrupted proc.wait() holds. The finally clause stops the SuperNode.
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_group(proc)
