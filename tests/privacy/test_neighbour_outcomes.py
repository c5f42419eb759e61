"""No outcome decided by one row: kinds, dtypes, ledger lines and success on neighbouring tables.

Each pair differs in one row that used to decide something by itself: an ``NA`` in an
integer column (pandas made it float), a stray word in a numeric column (pandas made it
text), one value in an otherwise missing column, an int in a column of strings.
"""

import json

import numpy as np
import pandas as pd
import pytest

import dpquilt as dq
from dpquilt.cli import main
from dpquilt.schema import CategoricalColumn
from tests.conftest import FAST

N = 3000


def base() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "age": rng.integers(20, 70, N),
            "spend": np.round(rng.gamma(2.0, 40.0, N), 2),
            "city": rng.choice(["oslo", "rome", "lima"], N),
        }
    )


def add_row(df: pd.DataFrame, **values) -> pd.DataFrame:
    row = {"age": 33, "spend": 12.5, "city": "oslo", **values}
    return pd.concat([df, pd.DataFrame({k: [v] for k, v in row.items()})], ignore_index=True)


NEIGHBOURS = {
    "NA in an integer column": {"age": None},
    "a word in an integer column": {"age": "unknown"},
    "a word in a float column": {"spend": "n/a"},
    "a number in a text column": {"city": 7},
}


def ledger_line(what: str, mechanism: str, scale: float) -> tuple:
    """A ledger line with the pair MST selected left out: which pair is a DP output (the
    exponential mechanism's), free to differ between neighbours; everything else must not."""
    if what.startswith("marginal (") and what.count(",") >= 1 and not what.endswith(",)"):
        what = "marginal of a selected pair"
    return what, mechanism, scale


def run_cli(tmp_path, name: str, df: pd.DataFrame, *extra: str) -> tuple[int, str, dict]:
    src, out = tmp_path / f"{name}.csv", tmp_path / f"{name}-out.parquet"
    df.to_csv(src, index=False)
    status = main(["synth", str(src), "--out", str(out), "--seed", "0", "--iters", "200", "--rows", "300",
                   "--quiet", *extra])
    if status != 0:
        return status, "", {}
    report = json.loads((tmp_path / f"{name}-out.privacy.json").read_text())
    ledger = json.dumps([ledger_line(e["what"], e["mechanism"], e["noise_scale"]) for e in report["expenditures"]])
    dtypes = {c: str(t) for c, t in pd.read_parquet(out).dtypes.items()}
    return status, ledger, dtypes


@pytest.mark.parametrize("change", list(NEIGHBOURS), ids=list(NEIGHBOURS))
def test_the_cli_gives_neighbours_the_same_ledger_dtypes_and_exit_status(tmp_path, change):
    a = run_cli(tmp_path, "a", base())
    b = run_cli(tmp_path, "b", add_row(base(), **NEIGHBOURS[change]))
    assert a[0] == b[0] == 0
    assert a[1] == b[1], "the ledger differs"
    assert a[2] == b[2] == {"age": "Int64", "spend": "float64", "city": "object"}
    assert "kind of 'age'" in a[1]  # CSV columns carry no type: their kinds are learned with DP


@pytest.mark.parametrize("change", list(NEIGHBOURS), ids=list(NEIGHBOURS))
def test_with_a_public_schema_the_file_decides_every_kind(tmp_path, change):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({
        "age": {"kind": "integer", "lower": 0, "upper": 99},
        "spend": {"kind": "float", "lower": 0, "upper": 1000},
        "city": {"categories": ["lima", "oslo", "rome"]},
    }))
    a = run_cli(tmp_path, "a", base(), "--schema", str(schema))
    b = run_cli(tmp_path, "b", add_row(base(), **NEIGHBOURS[change]), "--schema", str(schema))
    assert a[0] == b[0] == 0 and a[1] == b[1] and a[2] == b[2]
    assert "kind of" not in a[1]


def fit(df: pd.DataFrame, **options):
    return dq.MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False, estimation=FAST, **options).fit(df)


def outcome(df: pd.DataFrame, **options):
    syn = fit(df, **options)
    kinds = {c.name: (type(c).__name__, getattr(c, "kind", None)) for c in syn.schema_.columns}
    ledger = [ledger_line(e.what, e.mechanism, e.noise_scale) for e in syn.privacy_report().expenditures]
    dtypes = dict(syn.sample(200, random_state=0).dtypes.astype(str))
    return kinds, ledger, dtypes


@pytest.mark.parametrize(
    "column,values",
    [
        ("note", lambda: pd.Series([None] * N, dtype=object)),  # all missing ...
        ("code", lambda: pd.Series(["a", "b", "c"] * (N // 3), dtype=object)),  # strings ...
    ],
    ids=["all missing plus one value", "strings plus one int"],
)
def test_the_python_api_takes_kinds_from_declared_dtypes(column, values):
    df = base().assign(**{column: values()})
    neighbour = pd.concat([df, pd.DataFrame({**df.iloc[[0]].to_dict("list"), column: [17]})], ignore_index=True)
    neighbour[column] = neighbour[column].astype(object)
    a, b = outcome(df), outcome(neighbour)
    assert a == b
    assert a[0][column] == (CategoricalColumn.__name__, None)


def test_a_column_whose_dtype_differs_from_its_declared_kind_is_coerced_not_rejected():
    df = base().assign(age=lambda d: d["age"].astype(str))
    df.loc[0, "age"] = "unknown"
    syn = fit(df, schema={"age": {"kind": "integer", "lower": 0, "upper": 99}})
    out = syn.sample(300, random_state=0)
    assert out["age"].dtype.name == "Int64" and out["age"].dropna().between(0, 99).all()
    assert any("1 present value(s) did not parse as integer" in n for n in syn.curator_notes_)
