"""compare(): every method, budget and seed measured the same way, in one tidy table."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sdmetrics")
pytest.importorskip("sklearn")

import dpquilt as dq  # noqa: E402
from dpquilt.evaluation import HOLDOUT  # noqa: E402
from dpquilt.evaluation.plots import column_distributions, correlation_heatmaps, error_vs_epsilon  # noqa: E402
from tests.conftest import FAST, load_shared  # noqa: E402


@pytest.fixture(scope="module")
def titanic_split():
    df, domain = load_shared("titanic")
    df = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    half = len(df) // 2
    return df[:half], df[half:], dq.Schema.from_domain(domain)


@pytest.fixture(scope="module")
def results(titanic_split):
    train, test, schema = titanic_split
    synths = {
        "mst": dq.MarginalSynthesizer(schema=schema, estimation=FAST),
        "aim": lambda eps, seed: dq.MarginalSynthesizer(epsilon=eps, method="aim", schema=schema, estimation=FAST,
                                                         rounds=10, random_state=seed, verbose=False),
    }
    return dq.compare(train, test, synths, epsilons=[0.05, 10.0], seeds=2, target="Survived", schema=schema,
                      metrics=["workload_2", "tstr", "mia_auc"], max_rows=300, progress=False)


def test_the_table_is_tidy_and_complete(results):
    assert list(results.columns) == ["method", "epsilon", "seed", "metric", "value", "fit_seconds"]
    fits = results[results.method != HOLDOUT]
    assert len(fits) == 2 * 2 * 2 * 3  # methods x epsilons x seeds x metrics
    assert set(fits.metric) == {"workload_2", "tstr", "mia_auc"} and (fits.fit_seconds > 0).all()
    floor = results[results.method == HOLDOUT]
    assert set(floor.metric) == {"workload_2", "tstr"} and np.isinf(floor.epsilon).all()


def test_more_budget_means_less_error_and_the_holdout_is_the_floor(results):
    err = results[results.metric == "workload_2"].groupby(["method", "epsilon"]).value.mean()
    floor = err[(HOLDOUT, np.inf)]
    for method in ("mst", "aim"):
        assert err[(method, 10.0)] < err[(method, 0.05)]
        assert err[(method, 10.0)] > floor * 0.8  # a DP synthesizer does not beat real data by much
    mia = results[results.metric == "mia_auc"].value
    assert mia.between(0.35, 0.65).all()  # no membership signal beyond noise at 300 + 300 candidates


def test_plots_draw_one_panel_per_metric_and_table(results, titanic_split):
    import matplotlib

    matplotlib.use("Agg")
    train, test, _ = titanic_split
    schema = dq.evaluation.evaluation_schema(train)
    assert len(error_vs_epsilon(results).axes) == 3
    assert sum(ax.get_visible() for ax in column_distributions(train, {"holdout": test}, schema, max_columns=5).axes) == 5
    heat = correlation_heatmaps(train, {"holdout": test}, schema)
    assert len([ax for ax in heat.axes if ax.get_title()]) == 2


def test_bad_calls_say_what_to_change(titanic_split):
    train, test, schema = titanic_split
    with pytest.raises(ValueError, match="at least one synthesizer"):
        dq.compare(train, test, {})
    with pytest.raises(ValueError, match="unknown metrics"):
        dq.compare(train, test, {"m": dq.MarginalSynthesizer()}, metrics=["accuracy"], progress=False)
    with pytest.raises(ValueError, match="same columns"):
        dq.compare(train, test.drop(columns="Survived"), {"m": dq.MarginalSynthesizer()})
    with pytest.raises(ValueError, match="target 'nope'"):
        dq.compare(train, test, {"m": dq.MarginalSynthesizer()}, target="nope")
    with pytest.raises(TypeError, match=r"real_train is a dict.*pandas DataFrames or Dask DataFrames.*read_parquet"):
        dq.compare(train.to_dict(), test, {"m": dq.MarginalSynthesizer()})
    fitted = dq.MarginalSynthesizer(epsilon=1.0, schema=schema, estimation=FAST, verbose=False).fit(train)
    with pytest.raises(ValueError, match="already fitted"):
        dq.compare(train, test, {"m": fitted}, progress=False)


def test_a_dask_table_is_fitted_whole_and_scored_on_a_stated_share(rng):
    dd = pytest.importorskip("dask.dataframe")
    df = pd.DataFrame({"a": rng.choice(list("xyz"), 1000), "b": rng.choice(list("uv"), 1000)})
    train, test = df[:600], df[600:].reset_index(drop=True)
    fitted_on = []

    class Recorded(dq.MarginalSynthesizer):
        def fit(self, df):
            fitted_on.append(df)
            return super().fit(df)

    dask_train = dd.from_pandas(train, npartitions=3)
    results = dq.compare(
        dask_train, dd.from_pandas(test, npartitions=2),
        {"mst": lambda eps, seed: Recorded(epsilon=eps, estimation=FAST, random_state=seed, verbose=False)},
        epsilons=[1.0], seeds=1, metrics=["workload_2"], progress=False, scored_rows=200,
    )
    assert fitted_on == [dask_train]  # the whole table, not the share
    scored = results.attrs["scored_rows"]
    assert 150 <= scored["real_train"] <= 250 and 150 <= scored["real_test"] <= 250
    assert set(results.method) == {HOLDOUT, "mst"} and results.value.notna().all()
    whole = dq.compare(train, test, {"mst": dq.MarginalSynthesizer(estimation=FAST, verbose=False)}, epsilons=[1.0],
                       seeds=1, metrics=["workload_2"], progress=False)
    assert whole.attrs["scored_rows"] == {"real_train": 600, "real_test": 400}
    with pytest.raises(ValueError, match="scored_rows must be a positive integer"):
        dq.compare(dask_train, test, {"mst": dq.MarginalSynthesizer()}, scored_rows=0)
    with pytest.raises(ValueError, match="same columns"):  # checked on the metadata, before any pass
        dq.compare(dask_train, test.drop(columns="b"), {"mst": dq.MarginalSynthesizer()})


def test_two_seeded_runs_give_identical_tables(titanic_split):
    """Fits, samples and subsampled metrics all take the seed: a seeded comparison repeats exactly."""
    train, test, schema = titanic_split

    def run():
        synths = {"mst": dq.MarginalSynthesizer(schema=schema, estimation=FAST)}
        out = dq.compare(train, test, synths, epsilons=[1.0], seeds=2, target="Survived", schema=schema,
                         metrics=["workload_2", "tstr", "dcr_train_share", "mia_auc"], max_rows=200, progress=False)
        return out.drop(columns="fit_seconds")

    first, second = run(), run()
    assert first.equals(second)
    assert first[first.method == "mst"].groupby("seed").value.sum().nunique() == 2  # the seeds differ
