"""`dpquilt federate` on Flower's Deployment Engine: the loopback script, and early errors."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("flwr")

from dpquilt.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_client_with_a_missing_table_fails_before_starting_anything(tmp_path, capsys):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"a": {"kind": "categorical", "categories": [0, 1]}}))
    assert main(["federate", "client", "--data", str(tmp_path / "nope.csv"), "--schema", str(schema)]) == 2
    assert "client data" in capsys.readouterr().err


def test_server_refuses_an_incomplete_schema(tmp_path, capsys):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"age": {"kind": "float"}}))  # no bounds: would need DP inference
    code = main(["federate", "server", "--schema", str(schema), "--clients", "2", "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "is not complete" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("method", ["mst", "diffusion"])
def test_loopback_script_runs_three_clients_and_a_server_and_stops_them(tmp_path, method):
    """examples/federated_loopback.sh: separate processes on loopback (SecAgg+ sums for MST; DP-FedAvg for
    the diffusion model); about 2-3 minutes each."""
    if method == "diffusion":
        pytest.importorskip("torch")
        pytest.importorskip("opacus")
    if shutil.which("dpquilt") is None and not (Path(sys.executable).parent / "dpquilt").exists():
        pytest.skip("the dpquilt command is not installed")
    env_path = f"{Path(sys.executable).parent}:{__import__('os').environ['PATH']}"
    result = subprocess.run(
        ["bash", str(ROOT / "examples" / "federated_loopback.sh"), str(tmp_path)],
        capture_output=True, text=True, timeout=900, env={**__import__("os").environ, "PATH": env_path,
                                                          "DPQUILT_PORT": "9193", "DPQUILT_METHOD": method},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "OK:" in result.stdout
    left = subprocess.run(["pgrep", "-f", f"--superlink 127.0.0.1:9193|--port 9193"], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"processes left running: {left.stdout}"


def test_server_refuses_client_level_without_secure_updates(tmp_path, capsys):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"a": {"categories": ["x", "y"]}}))
    code = main(["federate", "server", "--schema", str(schema), "--clients", "3", "--method", "diffusion",
                 "--privacy-unit", "client", "--plain-updates", "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "needs secure updates" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_server_refuses_fedsgd_without_a_secure_sum_of_record_level_gradients(tmp_path, capsys):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"a": {"categories": ["x", "y"]}}))
    code = main(["federate", "server", "--schema", str(schema), "--clients", "3", "--method", "diffusion",
                 "--algorithm", "fedsgd", "--plain-updates", "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "adds the noise to the secure sum" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
