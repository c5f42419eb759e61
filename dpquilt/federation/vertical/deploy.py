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
from ...schema.codec import encode
from .alignment import SiloInputError, align_silo
from .party import CoordinatorJob, PartyConfig, run_party, schema_digest

__all__ = ["parse_addresses", "read_keys", "read_public_schema", "run_coordinator", "run_silo"]


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


def read_public_schema(path: str | Path) -> Schema:
    """A complete public schema from a JSON file of column facts (``Schema.to_dict`` format)."""
    schema = Schema.from_public(json.loads(Path(path).read_text()))
    if not schema.complete:
        raise SiloInputError(f"schema {path} is not complete: give categories, bounds and bins of every column")
    return schema


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
    seed: int | None = None,
) -> int:
    """Take part as silo ``party`` (1 ..) with the table at ``data``; returns the exit status."""
    addresses = parse_addresses(parties)
    if not 1 <= party < len(addresses):
        raise SiloInputError(f"--party {party}: silos are parties 1 to {len(addresses) - 1} (0 is the coordinator)")
    public = read_public_schema(schema)
    table = align_silo(name, load(Path(data), text=True), key, read_keys(keys, key))
    unknown = [c for c in table.columns if c not in public.names]
    if unknown:
        raise SiloInputError(f"silo {name!r}: column(s) {unknown} are not in the schema {schema}; add their public "
                             "facts or drop them")
    codes = encode(table, public.select(list(table.columns))).data
    config = PartyConfig(party, addresses, public.domain(), name, schema_digest(public.to_dict()), seed, data=codes)
    return run_party(config)


def run_coordinator(
    *, schema: str | Path, parties: Sequence[str], out: str | Path, epsilon: float = 1.0, delta: float = 1e-9,
    rows: int | None = None, seed: int | None = None,
) -> Path:
    """Coordinate the fit; writes ``out`` (``rows`` rows, default the public row count) and its privacy report."""
    addresses = parse_addresses(parties)
    public = read_public_schema(schema)
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="dpquilt-coordinator-") as tmp:
        result = Path(tmp) / "synthesizer.pkl"
        job = CoordinatorJob(public.to_dict(), float(epsilon), float(delta), str(result))
        config = PartyConfig(0, addresses, public.domain(), "coordinator", schema_digest(public.to_dict()), seed, job=job)
        if run_party(config) != 0 or not result.exists():
            raise RuntimeError("the cross-silo fit ended without a model; nothing was written")
        synthesizer = pickle.loads(result.read_bytes())
    table = synthesizer.sample(rows, random_state=seed)
    save(table, out)
    report_path_for(out).write_text(synthesizer.privacy_report().to_json())
    return out

