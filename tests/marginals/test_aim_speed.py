"""AIM's faster computation selects exactly what the plain one does (seeded), and reports its progress."""

import numpy as np
import pytest

from dpquilt.graphical.extension_sizes import SizeReuse
from dpquilt.graphical.model import EstimationOptions, estimate
from dpquilt.graphical.sizes import extension_sizes_mb, model_size_mb
from dpquilt.marginals.aim import aim
from dpquilt.marginals.oracle import LocalOracle
from dpquilt.marginals.workload import Workload
from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.noise import SeededNoise
from dpquilt.schema.dataset import Dataset


def _wide(columns=9, rows=3000, seed=0):
    rng = np.random.default_rng(seed)
    domain = {f"c{i}": int(rng.integers(2, 9)) for i in range(columns)}
    base = rng.integers(0, 8, rows)
    data = {name: (base + rng.integers(0, 2, rows) * (i % 3)) % k for i, (name, k) in enumerate(domain.items())}
    return Dataset(data, domain)


def _run(data, shared_sizes, max_model_size, progress=False, single_precision=False):
    domain = dict(data.domain)
    acc = Accountant(2.0, 1e-9, secure=False)
    reuse = SizeReuse()  # one per fit, as MarginalSynthesizer keeps it: growth shared across the rounds' graphs
    result = aim(
        LocalOracle(data, SeededNoise(np.random.default_rng(7))),
        acc.remaining_rho(),
        acc,
        Workload.all_kway(list(domain), 3),
        fit_model=lambda ms, warm: estimate(domain, ms, EstimationOptions(iters=30, single_precision=single_precision), warm_start=warm),
        model_size=lambda cl: model_size_mb(domain, cl),
        model_sizes=(lambda cl: extension_sizes_mb(domain, cl, reuse)) if shared_sizes else None,
        rounds=40,
        max_model_size=max_model_size,
        progress=progress,
    )
    return [m.cols for m in result.measurements], [(e.what, e.rho) for e in acc.ledger]


@pytest.mark.parametrize("max_model_size", [80.0, 0.004])  # the second cap leaves many candidates out
def test_shared_model_sizes_select_the_same_cliques(max_model_size):
    data = _wide()
    assert _run(data, True, max_model_size) == _run(data, False, max_model_size)


def test_single_precision_round_fits_select_the_same_cliques():
    data = _wide()
    assert _run(data, True, 80.0, single_precision=True) == _run(data, True, 80.0)


def test_aim_fits_its_rounds_in_single_precision_and_its_model_in_double(monkeypatch):
    """MarginalSynthesizer's AIM: the rounds' fits at float32 node tables, the final
    estimation at float64; ``round_single_precision=False`` keeps every fit at float64."""
    import pandas as pd

    import dpquilt.graphical.model as model_module
    from dpquilt.synthesizers.marginal import MarginalSynthesizer

    data = _wide(columns=5, rows=800)
    df = pd.DataFrame({c: [f"v{v}" for v in data.columns[c]] for c in data.domain})
    schema = {c: {"categories": [f"v{v}" for v in range(k)]} for c, k in data.domain.items()}
    real = model_module.accelerated_descent
    for rounds_single, round_dtype in [(True, np.float32), (False, np.float64)]:
        dtypes = []

        def recording(*args, dtype=np.float64, **kwargs):
            dtypes.append(np.dtype(dtype))
            return real(*args, dtype=dtype, **kwargs)

        monkeypatch.setattr(model_module, "accelerated_descent", recording)
        options = EstimationOptions(round_single_precision=rounds_single)
        MarginalSynthesizer(epsilon=2.0, method="aim", schema=schema, rounds=8, estimation=options, random_state=0, verbose=False).fit(df)
        assert len(dtypes) >= 3
        assert dtypes[-1] == np.float64  # the released model
        assert set(dtypes[:-1]) == {np.dtype(round_dtype)}  # the first fit, every round fit and refit


def test_progress_shows_rounds_and_time_left(capsys):
    _run(_wide(columns=5, rows=500), True, 80.0, progress=True)
    err = capsys.readouterr().err
    assert "AIM" in err and "rho" in err and "round" in err and "<" in err  # tqdm's [elapsed<remaining]


def test_progress_is_silent_when_asked(capsys):
    _run(_wide(columns=5, rows=500), True, 80.0, progress=False)
    assert capsys.readouterr().err == ""


def test_model_marginals_on_threads_equal_one_projection_at_a_time(monkeypatch):
    """The round's projections run on threads sharing one ProjectionCache; each equals a lone projection."""
    import dpquilt.graphical.projection as projection_module

    monkeypatch.setattr(projection_module, "THREADED_PROJECTION_S", 0.0)  # threads however fast the projections
    from itertools import combinations

    from dpquilt.graphical.projection import project
    from dpquilt.graphical.model import GraphicalModel
    from dpquilt.marginals.aim import model_marginals

    rng = np.random.default_rng(3)
    names = [f"c{i}" for i in range(10)]
    domain = {a: int(rng.integers(2, 5)) for a in names}
    cliques = [("c0", "c1", "c2"), ("c2", "c3"), ("c3", "c4", "c5"), ("c5", "c6"), ("c7", "c8"), ("c8", "c9")]
    model = GraphicalModel(domain, 1000.0, {c: rng.normal(size=[domain[a] for a in c]) for c in cliques})
    asked = list(combinations(names, 3))  # 120 candidates: more than one thread's share
    got = model_marginals(asked, model)
    for r in asked:
        alone = project(model.tree, model.node_marginals, r, model.total)
        np.testing.assert_allclose(got[r], alone, rtol=0, atol=1e-6 * model.total)  # AIM projects in float32
