"""Projections shared with worker processes: the same marginals as this process's, plans kept
from model to model in each worker, and a worker that fails leaves its share to this process."""

import io
import itertools
import logging
import pickle

import numpy as np
import pytest

import dpquilt.graphical.projection as projection_module
from dpquilt.graphical.model import GraphicalModel
from dpquilt.graphical.projection import ProjectionPlans, project
from dpquilt.graphical.projection_processes import WorkerFailed, _read, _write, serve, shares


@pytest.fixture
def shared_out(monkeypatch):
    """Every batch counts as large and this process as one of two cores: the batch is shared."""
    monkeypatch.setattr(projection_module, "THREADED_PROJECTION_S", 0.0)
    monkeypatch.setattr(projection_module, "SHARED_BATCH_S", 0.0)
    monkeypatch.setattr(projection_module, "PROJECTIONS_PER_TASK", 4)
    monkeypatch.setattr(projection_module, "_cores", lambda: 2)


def _model(rng, domain, cliques, plans):
    potentials = {c: rng.normal(size=[domain[a] for a in c]) for c in cliques}
    return GraphicalModel(domain, 300.0, potentials, plans=plans)


def _check(model, asked, got):
    for r, table in zip(asked, got):
        expected = project(model.tree, model.node_marginals, r, model.total)
        assert table.dtype == np.float64 and table.shape == expected.shape, r
        np.testing.assert_allclose(table, expected, rtol=1e-9, atol=1e-9 * model.total)


def test_a_shared_batch_answers_as_this_process_and_workers_keep_their_plans(rng, shared_out):
    names = [f"c{i}" for i in range(9)]
    domain = {a: int(k) for a, k in zip(names, rng.integers(2, 5, len(names)))}
    cliques = [("c0", "c1"), ("c1", "c2", "c3"), ("c3", "c4"), ("c4", "c5", "c6"), ("c6", "c7"), ("c2", "c8")]
    plans = ProjectionPlans()
    asked = list(itertools.combinations(names, 3)) + [("c5", "c0"), ("c8",)]
    try:
        model = _model(rng, domain, cliques, plans)
        _check(model, asked, model.project_many(asked))
        (worker,) = plans._workers
        assert worker.alive, "no worker process took a share"
        assert plans.share_weights(2) != [1.0, 1.0], "the shares did not follow the processes' speeds"
        grown = _model(rng, domain, cliques + [("c0", "c7", "c8")], plans)  # AIM's next round: a new tree, the same plans
        single = grown.project_many(asked, single_precision=True)
        for r, table in zip(asked, single):
            np.testing.assert_allclose(table, project(grown.tree, grown.node_marginals, r, grown.total), rtol=0, atol=1e-6 * grown.total)
        assert plans._workers == [worker] and worker.alive, "the worker was not kept from model to model"
    finally:
        plans.close()
    assert not worker.alive


def test_a_worker_that_dies_is_started_again_or_leaves_its_share_to_this_process(rng, shared_out, caplog, monkeypatch):
    from dpquilt.graphical.projection_processes import ProjectionWorker

    names = [f"c{i}" for i in range(7)]
    domain = dict.fromkeys(names, 3)
    cliques = [("c0", "c1", "c2"), ("c2", "c3"), ("c3", "c4", "c5"), ("c5", "c6")]
    plans = ProjectionPlans()
    asked = list(itertools.combinations(names, 3))
    try:
        model = _model(rng, domain, cliques, plans)
        model.project_many(asked)
        (worker,) = plans._workers
        worker._process.kill()  # between batches: the next batch starts it again
        worker._process.wait()
        again = _model(rng, domain, cliques, plans)
        _check(again, asked, again.project_many(asked))
        assert worker.alive, "the next batch did not start the worker again"
        submit = ProjectionWorker.submit

        def dying(self, *args, **kwargs):  # dies while it has a share
            submit(self, *args, **kwargs)
            self._process.kill()

        monkeypatch.setattr(ProjectionWorker, "submit", dying)
        third = _model(rng, domain, cliques, plans)
        with caplog.at_level(logging.WARNING, logger=projection_module.__name__):
            _check(third, asked, third.project_many(asked))
        assert any("computed here" in record.message for record in caplog.records)
        assert not worker.alive and plans.worker_processes is False  # later batches stay here
        fourth = _model(rng, domain, cliques, plans)
        _check(fourth, asked, fourth.project_many(asked))
        assert not worker.alive
    finally:
        plans.close()


def test_no_worker_that_can_start_leaves_the_batch_to_this_process(rng, shared_out, caplog, monkeypatch):
    from dpquilt.graphical.projection_processes import ProjectionWorker

    def unstartable(self):
        raise OSError("no executable")

    monkeypatch.setattr(ProjectionWorker, "_start", unstartable)
    names = [f"c{i}" for i in range(6)]
    domain = dict.fromkeys(names, 3)
    plans = ProjectionPlans()
    model = _model(rng, domain, [("c0", "c1", "c2"), ("c2", "c3"), ("c3", "c4", "c5")], plans)
    asked = list(itertools.combinations(names, 3))
    with caplog.at_level(logging.WARNING, logger=projection_module.__name__):
        _check(model, asked, model.project_many(asked))
    assert [r.message for r in caplog.records if "could start" in r.message] and plans.worker_processes is False


def test_batches_stay_in_this_process_when_asked(rng, shared_out):
    names = [f"c{i}" for i in range(6)]
    domain = dict.fromkeys(names, 2)
    plans = ProjectionPlans(worker_processes=False)
    model = _model(rng, domain, [("c0", "c1"), ("c1", "c2"), ("c2", "c3"), ("c3", "c4", "c5")], plans)
    asked = list(itertools.combinations(names, 3))
    _check(model, asked, model.project_many(asked))
    assert plans._workers == []
    assert pickle.loads(pickle.dumps(plans)).worker_processes is False


def test_shares_deal_every_clique_once_in_contiguous_runs_of_their_columns(rng):
    names = [f"c{i}" for i in range(8)]
    cliques = [tuple(rng.permutation(c)) for c in itertools.combinations(names, 3)]
    for parts in (1, 2, 3, 8):
        dealt = shares(cliques, names, [1.0] * parts)
        assert sorted(i for part in dealt for i in part) == list(range(len(cliques)))
        assert max(map(len, dealt)) - min(map(len, dealt)) <= 1
        keys = [[sorted(names.index(c) for c in cliques[i]) for i in part] for part in dealt]
        assert all(part == sorted(part) for part in keys)
        assert all(a[-1] <= b[0] for a, b in zip(keys, keys[1:]) if a and b)


def test_a_worker_reports_what_failed_and_goes_on():
    from dpquilt.graphical.junction import build_junction_tree

    tree = build_junction_tree({"a": 2, "b": 2}, [("a", "b")])
    requests = io.BytesIO()
    _write(requests, pickle.dumps(("project", tree, {}, [("a",)], 4.0, 2**20)))  # no node marginals
    _write(requests, pickle.dumps(("project", tree, {("a", "b"): np.ones((2, 2))}, [("b",)], 4.0, 2**20)))
    replies = io.BytesIO()
    serve(io.BytesIO(requests.getvalue()), replies, ProjectionPlans(), projection_module.project_many)
    answers = io.BytesIO(replies.getvalue())
    kind, text = _read(answers)
    assert kind == "error" and "KeyError" in text
    kind, (tables, seconds) = _read(answers)
    assert kind == "ok" and tables[0].tolist() == [2.0, 2.0] and seconds >= 0
    with pytest.raises(EOFError):
        _read(answers)


def test_worker_failures_name_what_happened():
    from dpquilt.graphical.projection_processes import ProjectionWorker

    worker = ProjectionWorker()
    with pytest.raises(WorkerFailed, match="stopped"):
        worker.result()  # nothing was asked: there is no process to answer
