"""Run a cross-silo fit as separate processes, one per organisation: ``dpquilt vertical``.

Every party gets the same list of addresses (the coordinator's first, then the silos' in
a fixed order) and the same schema file. A silo reads its own table, keeps the rows of the
public keys in the keys file's order and takes part until the coordinator stops the
session; the coordinator fits MST and writes the synthetic table and
``<stem>.privacy.json`` beside it. The channels are plain TCP: on one machine use
loopback addresses; across organisations run them over a private network or TLS.

Examples
--------
On one machine, three terminals (or ``&``)::

    dpquilt vertical coordinator --schema schema.json --parties 127.0.0.1:11400 127.0.0.1:11401 127.0.0.1:11402 --out synth.csv
    dpquilt vertical silo bank.csv --name bank --key id --keys keys.csv --schema schema.json --party 1 --parties ...
    dpquilt vertical silo insurer.csv --name insurer --key id --keys keys.csv --schema schema.json --party 2 --parties ...
"""

from __future__ import annotations

import json
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ...io.files import load, report_path_for, save
from ...schema import Schema
from .alignment import SiloInputError, align_silo
from .party import CoordinatorJob, PartyConfig, run_party
from .silo_schema import SchemaPlan

__all__ = ["parse_addresses", "read_keys", "read_public_facts", "run_coordinator", "run_silo"]


def parse_addresses(parties: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """``host:port`` strings as pairs; the coordinator first.

    Examples
    --------
    >>> parse_addresses(["127.0.0.1:11400", "127.0.0.1:11401", "localhost:11402"])
    (('127.0.0.1', 11400), ('127.0.0.1', 11401), ('localhost', 11402))
    """
    out = []
    for text in parties:
        host, _, port = str(text).rpartition(":")
        if not host or not port.isdigit():
            raise SiloInputError(f"party address {text!r} is not host:port (for example 127.0.0.1:11400)")
        out.append((host, int(port)))
    if not 3 <= len(out) <= 6:
        raise SiloInputError(f"give the coordinator's address and 2 to 5 silos' ({len(out)} given)")
    return tuple(out)


def read_public_facts(path: str | Path) -> dict:
    """Every silo's column, with the public facts users give (``Schema.to_dict`` format), from a JSON file.

    Every column of every silo must be listed; what its facts lack (``{"kind": "auto"}``:
    everything) the silo that holds it learns with DP.
    """
    facts = json.loads(Path(path).read_text())
    if not isinstance(facts, dict) or not facts:
        raise SiloInputError(f"schema {path} must be a JSON object of column facts, one entry per column of every silo")
    Schema.from_public(facts)  # a clear error for facts it cannot read
    return facts


def read_keys(path: str | Path, column: str) -> pd.Index:
    """The public list of keys: the ``column`` of a table file, or its first column if it has none of that name.

    A CSV file is read as text, as the silos' tables are, so keys compare as written.

    Examples
    --------
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "keys.csv").write_text(chr(10).join(["id", "7", "3"]))
    >>> read_keys(folder / "keys.csv", "id").tolist()
    ['7', '3']
    """
    table = load(Path(path), text=True)
    return pd.Index(table[column if column in table.columns else table.columns[0]])


def run_silo(
    data: str | Path, *, name: str, key: str, keys: str | Path, schema: str | Path, party: int, parties: Sequence[str],
    epsilon: float = 1.0, delta: float = 1e-9, schema_share: float = 0.1, seed: int | None = None,
) -> int:
    """Take part as silo ``party`` (1 ..) with the table at ``data``; returns the exit status.

    ``epsilon``, ``delta`` and ``schema_share`` must be the coordinator's: they set the
    silo's share of the budget for learning its columns' facts.
    """
    addresses = parse_addresses(parties)
    if not 1 <= party < len(addresses):
        raise SiloInputError(f"--party {party}: silos are parties 1 to {len(addresses) - 1} (0 is the coordinator)")
    facts = read_public_facts(schema)
    table = align_silo(name, load(Path(data), text=True), key, read_keys(keys, key))
    unknown = [c for c in table.columns if c not in facts]
    if unknown:
        raise SiloInputError(f"silo {name!r}: column(s) {unknown} are not in the schema {schema}; list them there "
                             "(with their public facts, or {\"kind\": \"auto\"}) or drop them")
    plan = SchemaPlan(float(epsilon), float(delta), float(schema_share), len(addresses) - 1)
    return run_party(PartyConfig(party, addresses, tuple(facts), facts, plan, name, seed, frame=table))


def run_coordinator(
    *, schema: str | Path, parties: Sequence[str], out: str | Path, epsilon: float = 1.0, delta: float = 1e-9,
    schema_share: float = 0.1, rows: int | None = None, seed: int | None = None,
) -> Path:
    """Coordinate the fit; writes ``out`` (``rows`` rows, default the noisy row count) and its privacy report."""
    addresses = parse_addresses(parties)
    facts = read_public_facts(schema)
    out = Path(out)
    plan = SchemaPlan(float(epsilon), float(delta), float(schema_share), len(addresses) - 1)
    with tempfile.TemporaryDirectory(prefix="dpquilt-coordinator-") as tmp:
        result = Path(tmp) / "synthesizer.pkl"
        config = PartyConfig(0, addresses, tuple(facts), facts, plan, seed=seed, job=CoordinatorJob(str(result)))
        if run_party(config) != 0 or not result.exists():
            raise RuntimeError("the cross-silo fit ended without a model; nothing was written")
        synthesizer = pickle.loads(result.read_bytes())
    table = synthesizer.sample(rows, random_state=seed)
    save(table, out)
    report_path_for(out).write_text(synthesizer.privacy_report().to_json())
    return out

