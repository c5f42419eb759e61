"""``dpquilt vertical``: a coordinator and two silos as separate processes on loopback."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mpyc")

from dpquilt.federation.vertical.simulation import _free_ports  # noqa: E402

N = 400


def _files(tmp_path, insurer_facts=None):
    rng = np.random.default_rng(0)
    ids = [f"c{i:04d}" for i in rng.permutation(N)]
    plan = rng.choice(["basic", "gold"], N)
    claims = np.where(plan == "gold", rng.integers(0, 2, N), rng.integers(1, 3, N))
    pd.DataFrame({"id": ids, "plan": plan}).to_csv(tmp_path / "bank.csv", index=False)
    pd.DataFrame({"id": ids[::-1], "claims": claims[::-1]}).to_csv(tmp_path / "insurer.csv", index=False)
    pd.DataFrame({"id": sorted(ids)}).to_csv(tmp_path / "keys.csv", index=False)
    facts = {"plan": {"categories": ["basic", "gold"]}, "claims": {"kind": "integer", "edges": [0, 1, 2, 3]}}
    (tmp_path / "schema.json").write_text(json.dumps(facts))
    (tmp_path / "other.json").write_text(json.dumps({**facts, **(insurer_facts or {})}))


def _start(tmp_path, insurer_schema="schema.json"):
    parties = [f"127.0.0.1:{p}" for p in _free_ports(3)]
    base = [sys.executable, "-m", "dpquilt.cli", "vertical"]
    common = ["--parties", *parties, "--seed", "0", "--quiet"]
    cmds = [
        base + ["coordinator", "--schema", str(tmp_path / "schema.json"), "--out", str(tmp_path / "synth.csv"), *common],
        base + ["silo", str(tmp_path / "bank.csv"), "--name", "bank", "--key", "id", "--keys", str(tmp_path / "keys.csv"),
                "--schema", str(tmp_path / "schema.json"), "--party", "1", *common],
        base + ["silo", str(tmp_path / "insurer.csv"), "--name", "insurer", "--key", "id", "--keys",
                str(tmp_path / "keys.csv"), "--schema", str(tmp_path / insurer_schema), "--party", "2", *common],
    ]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for c in cmds]
    try:
        outputs = [p.communicate(timeout=180)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    return [p.returncode for p in procs], outputs


def test_three_processes_on_loopback_write_one_table_and_its_report(tmp_path):
    _files(tmp_path)
    codes, outputs = _start(tmp_path)
    assert codes == [0, 0, 0], outputs
    table = pd.read_csv(tmp_path / "synth.csv")
    assert list(table.columns) == ["plan", "claims"]
    gold = table[table["plan"] == "gold"]["claims"]
    assert (gold <= 1).mean() > 0.8  # gold plans claim 0-1 times in the real rows
    report = json.loads((tmp_path / "synth.privacy.json").read_text())
    assert "across silos" in json.dumps(report)


def test_a_silo_with_another_schema_stops_every_party_and_nothing_is_written(tmp_path):
    _files(tmp_path, insurer_facts={"claims": {"kind": "integer", "edges": [0, 2, 3]}})
    codes, outputs = _start(tmp_path, insurer_schema="other.json")
    assert all(code != 0 for code in codes), outputs
    assert "use another schema" in outputs[0]
    assert not (tmp_path / "synth.csv").exists()
