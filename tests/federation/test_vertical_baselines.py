"""CrossSiloMST and the SiloFuse-style baseline as estimators of one table split by columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mpyc")
pytest.importorskip("torch")

from dpquilt.diffusion_model.gaussian_diffusion import DDPMSettings  # noqa: E402
from dpquilt.dpsgd.training import DPSGDSettings  # noqa: E402
from dpquilt.evaluation import compare  # noqa: E402
from dpquilt.federation.vertical import CrossSiloMST, split_columns  # noqa: E402
from dpquilt.federation.vertical.silofuse import COORDINATOR_NOTE, SiloFuseSynthesizer  # noqa: E402


def _table(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.choice(["x", "y", "z"], n)
    b = np.where(rng.random(n) < 0.85, pd.Series(a).map({"x": "u", "y": "v", "z": "w"}), rng.choice(["u", "v", "w"], n))
    return pd.DataFrame({"a": a, "c": rng.integers(0, 4, n), "b": b})


def _fast_silofuse(**kw) -> SiloFuseSynthesizer:
    training = DPSGDSettings(batch_size=150, epochs=8, learning_rate=1e-2)
    ddpm = DDPMSettings(hidden=32, diffusion_steps=20, noise_draws=4, training=training)
    return SiloFuseSynthesizer([["a", "c"], ["b"]], latent_dim=3, hidden=32, autoencoder=training, diffusion=ddpm, **kw)


def test_split_columns_refuses_a_column_in_no_silo_or_in_two():
    df = _table(10)
    with pytest.raises(ValueError, match=r"column\(s\) \['b'\] are in no silo"):
        split_columns(df, [["a"], ["c"]])
    with pytest.raises(ValueError, match=r"column\(s\) \['a'\] are given to two silos"):
        split_columns(df, [["a", "b"], ["a", "c"]])


def test_silofuse_spends_its_budget_in_one_ledger_and_says_what_it_does_not_protect():
    syn = _fast_silofuse(epsilon=4.0, random_state=0).fit(_table())
    report = syn.privacy_report()
    whats = [e.what for e in report.expenditures]
    assert any("autoencoder of silo 'silo1'" in w for w in whats) and any("autoencoder of silo 'silo2'" in w for w in whats)
    assert any("latent diffusion" in w for w in whats)
    assert 3.9 < report.epsilon_spent <= 4.0 + 1e-9  # the whole budget, never more
    assert COORDINATOR_NOTE in str(report)
    sample = syn.sample(2000, random_state=1)
    assert list(sample.columns) == ["a", "c", "b"] and len(sample) == 2000
    other = "__other__"  # the learned lists keep a code for values not on them
    assert set(sample["a"].dropna()) <= {"x", "y", "z", other} and set(sample["b"].dropna()) <= {"u", "v", "w", other}


def test_compare_puts_cross_silo_mst_beside_central_mst():
    import dpquilt as dq

    df = _table(1200)
    results = compare(df[:900], df[900:], {"cross-silo mst": CrossSiloMST([["a", "c"], ["b"]]), "mst": dq.MarginalSynthesizer(method="mst")},
                      epsilons=[3.0], seeds=1, metrics=["workload_2"], progress=False)
    errors = results[results.metric == "workload_2"].set_index("method")["value"]
    assert errors["cross-silo mst"] < 1.5 * errors["mst"] + 0.02  # near the central fit on the same budget
