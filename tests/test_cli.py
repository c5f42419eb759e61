import json

import numpy as np
import pandas as pd
import pytest

from dpquilt.cli import main
from dpquilt.io.files import report_path_for


@pytest.mark.parametrize("suffix_in,suffix_out", [(".csv", ".csv"), (".parquet", ".parquet")])
def test_synth_writes_output_and_report(tmp_path, suffix_in, suffix_out):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.choice(["x", "y"], 2000), "b": rng.normal(100, 20, size=2000)})
    src = tmp_path / f"in{suffix_in}"
    df.to_csv(src, index=False) if suffix_in == ".csv" else df.to_parquet(src)
    out = tmp_path / f"synth{suffix_out}"
    rc = main(["synth", str(src), "--epsilon", "2", "--delta", "1e-9", "--method", "mst",
               "--out", str(out), "--seed", "0", "--iters", "100", "--rows", "50", "--quiet"])
    assert rc == 0
    res = pd.read_csv(out) if suffix_out == ".csv" else pd.read_parquet(out)
    assert list(res.columns) == ["a", "b"] and len(res) == 50
    report = json.loads(report_path_for(out).read_text())
    assert report_path_for(out).name == "synth.privacy.json"
    assert report["epsilon_spent"] <= 2.0 * (1 + 1e-9)
    assert report["randomness"] == "seeded: not for release"
    assert any(e["what"].startswith("marginal") for e in report["expenditures"])


def test_synth_on_parquet_parts_writes_partitioned_output_equal_to_the_one_file_fit(tmp_path):
    """A glob of Parquet parts is tallied as Dask partitions; a directory --out gets partitioned Parquet."""
    pytest.importorskip("dask")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.choice(["x", "y"], 2000), "b": rng.normal(100, 20, size=2000)})
    (tmp_path / "parts").mkdir()
    for k, rows in enumerate(np.array_split(np.arange(2000), 4)):
        df.iloc[rows].to_parquet(tmp_path / "parts" / f"p{k}.parquet", index=False)
    df.to_parquet(tmp_path / "whole.parquet", index=False)
    common = ["--epsilon", "2", "--method", "mst", "--seed", "0", "--iters", "100", "--rows", "900", "--quiet"]
    assert main(["synth", str(tmp_path / "parts" / "*.parquet"), "--out", str(tmp_path / "out"), "--partitions", "3",
                 *common]) == 0
    assert main(["synth", str(tmp_path / "whole.parquet"), "--out", str(tmp_path / "one.parquet"), *common]) == 0
    files = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert len(files) == 3 and sum(len(pd.read_parquet(f)) for f in files) == 900
    split = json.loads((tmp_path / "out.privacy.json").read_text())
    whole = json.loads((tmp_path / "one.privacy.json").read_text())
    assert split["expenditures"] == whole["expenditures"]


def test_schema_of_parquet_parts_equals_the_schema_of_the_one_file(tmp_path):
    dask = pytest.importorskip("dask")
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.choice(["x", "y", "z"], 3000), "n": rng.integers(0, 90, 3000),
                       "f": np.where(rng.random(3000) < 0.5, 0.0, rng.lognormal(3, 1, 3000))})
    (tmp_path / "parts").mkdir()
    for k, rows in enumerate(np.array_split(np.arange(3000), 3)):
        df.iloc[rows].to_parquet(tmp_path / "parts" / f"p{k}.parquet", index=False)
    df.to_parquet(tmp_path / "whole.parquet", index=False)
    common = ["--epsilon", "1", "--seed", "0", "--quiet"]
    with dask.config.set({"dataframe.convert-string": False}):  # else Dask declares the text column 'string'
        assert main(["schema", str(tmp_path / "parts"), "--out", str(tmp_path / "split.json"), *common]) == 0
    assert main(["schema", str(tmp_path / "whole.parquet"), "--out", str(tmp_path / "whole.json"), *common]) == 0
    assert (tmp_path / "split.json").read_text() == (tmp_path / "whole.json").read_text()
    assert json.loads((tmp_path / "split.privacy.json").read_text())["expenditures"] == \
        json.loads((tmp_path / "whole.privacy.json").read_text())["expenditures"]


def test_synth_refuses_partitioned_csv(tmp_path, capsys):
    pd.DataFrame({"a": [1, 2]}).to_csv(tmp_path / "p0.csv", index=False)
    assert main(["synth", str(tmp_path / "*.csv"), "--out", str(tmp_path / "o.csv"), "--quiet"]) == 2
    assert "partitioned input must be Parquet" in capsys.readouterr().err


def test_synth_bad_input_is_one_line_error(tmp_path, capsys):
    src = tmp_path / "in.csv"
    pd.DataFrame({"a": [1, 2]}).to_csv(src, index=False)
    rc = main(["synth", str(src), "--epsilon", "0", "--out", str(tmp_path / "o.csv"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err == "dpquilt: error: epsilon must be > 0, got 0.0; pass a positive budget such as epsilon=1.0"


def test_missing_file(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv"), "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_synth_with_the_ddpm_refiner_reports_dpsgd(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("opacus")
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.choice(["x", "y"], 600), "b": rng.exponential(size=600)})
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    df.to_csv(src, index=False)
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"a": {"categories": ["x", "y"]}, "b": {"lower": 0, "upper": 8, "bins": 4}}))
    rc = main(["synth", str(src), "--schema", str(schema), "--epsilon", "3", "--out", str(out), "--seed", "0",
               "--iters", "100", "--refiner", "ddpm", "--refiner-share", "0.4", "--device", "cpu", "--quiet"])
    assert rc == 0
    report = json.loads(report_path_for(out).read_text())
    assert report["expenditures"][-1]["what"].startswith("refiner: DDPM")
    assert report["epsilon_spent"] <= 3.0


def test_compare_writes_the_tidy_table_and_a_figure(tmp_path, capsys):
    pytest.importorskip("sdmetrics")
    pytest.importorskip("sklearn")
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    a = rng.choice(["x", "y", "z"], 2000)
    df = pd.DataFrame({"a": a, "b": np.where(rng.random(2000) < 0.8, a, "x"), "c": rng.normal(70, 8, size=2000)})
    src, out, png = tmp_path / "in.csv", tmp_path / "results.csv", tmp_path / "errors.png"
    df.to_csv(src, index=False)
    rc = main(["compare", str(src), "--methods", "mst", "aim", "--epsilons", "1", "4", "--seeds", "1",
               "--target", "b", "--metrics", "workload_2", "tstr", "--out", str(out), "--plot", str(png), "--quiet"])
    assert rc == 0 and png.stat().st_size > 0
    res = pd.read_csv(out)
    assert set(res.method) == {"mst", "aim", "real holdout"} and set(res.metric) == {"workload_2", "tstr"}
    assert len(res) == 2 + 2 * 2 * 2  # holdout + methods x epsilons x metrics
    assert "1400 training rows, 600 held out" in capsys.readouterr().out


def test_compare_reads_partitioned_parquet_as_dask_frames(tmp_path, capsys):
    pytest.importorskip("dask")
    rng = np.random.default_rng(1)
    for k in range(3):
        a = rng.choice(["x", "y", "z"], 1500)
        pd.DataFrame({"a": a, "b": np.where(a == "x", "u", "v")}).to_parquet(tmp_path / f"part-{k}.parquet")
    out = tmp_path / "results.csv"
    rc = main(["compare", str(tmp_path / "*.parquet"), "--methods", "mst", "--epsilons", "2", "--seeds", "1",
               "--metrics", "workload_2", "--out", str(out), "--quiet"])
    assert rc == 0
    res = pd.read_csv(out)
    assert set(res.method) == {"mst", "real holdout"}
    mst = res.loc[res.method == "mst", "value"].item()
    assert mst < 0.1  # b follows a: the fit on the partitions keeps it
    printed = capsys.readouterr().out
    assert "partitioned training and held-out rows" in printed and "'real_train': " in printed


def test_compare_refuses_a_bad_split(tmp_path, capsys):
    src = tmp_path / "in.csv"
    pd.DataFrame({"a": [1, 2]}).to_csv(src, index=False)
    assert main(["compare", str(src), "--test-share", "1.5", "--out", str(tmp_path / "r.csv"), "--quiet"]) == 2
    assert "--test-share must be in (0, 1), got 1.5" in capsys.readouterr().err


def test_schema_learns_a_reviewable_schema_that_synth_reuses_without_learning_again(tmp_path):
    rng = np.random.default_rng(3)
    n = 4000
    df = pd.DataFrame({"age": rng.integers(18, 90, n), "city": rng.choice(["oslo", "rome"], n),
                       "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")})
    df.loc[5, "age"] = None
    src, schema = tmp_path / "t.csv", tmp_path / "schema.json"
    df.to_csv(src, index=False)
    assert main(["schema", str(src), "--epsilon", "1", "--out", str(schema), "--seed", "0", "--quiet"]) == 0
    facts = json.loads(schema.read_text())
    assert {c: f["kind"] for c, f in facts.items()} == {"age": "integer", "city": "categorical", "when": "datetime"}
    assert facts["city"]["categories"] == ["oslo", "rome"] and facts["age"]["lower"] <= 18 <= 89 <= facts["age"]["upper"]
    learned = json.loads(report_path_for(schema).read_text())
    assert {e["what"].split(" (")[0] for e in learned["expenditures"]} >= {"kind of 'age'", "bounds of 'age'"}
    out = tmp_path / "s.parquet"
    assert main(["synth", str(src), "--schema", str(schema), "--out", str(out), "--seed", "0", "--iters", "200",
                 "--rows", "100", "--quiet"]) == 0
    report = json.loads(report_path_for(out).read_text())
    assert all(e["what"].startswith(("marginal", "MST", "within-bin histogram")) for e in report["expenditures"])  # nothing learned again
    assert dict(pd.read_parquet(out).dtypes.astype(str)) == {"age": "Int64", "city": "object", "when": "datetime64[ns]"}
