"""A batch of projections shared with other processes, each keeping its own plans.

Planning a projection (:mod:`dpquilt.graphical.projection`) is Python, and so is the
bookkeeping between its numpy steps: threads of one process wait on each other for the
interpreter. On STAR's rounds 56-72 at epsilon 1 (2 cores), a batch on two threads took
84 s in all, 34 s of it planning; planning on one thread while the other ran the plans
gained nothing (86 s). Split between two processes, each planning and running half of
the batch on one core, it took 55-65 s (84-85 s on threads in the same hour).

Each worker is a Python process started once (``python -c`` calling :func:`~dpquilt.graphical.projection.serve_as_worker`, so
nothing of the caller's script runs again in it) and kept for a sequence of models (AIM's rounds)
by :class:`~dpquilt.graphical.projection.ProjectionPlans`, so that its plans last from
round to round as the caller's do. The caller hands it the model's junction tree and node
marginals (the fitted model, released output: no row is read) and a share of the
columns asked; it answers with their marginals. Shares are contiguous runs of the
columns asked in column order (:func:`shares`), so that projections that carry the same
columns and share their products mostly fall in one process (dealt out in turn instead,
the same rounds took 68 s), and the same columns fall to the same process from round
to round, where their plans are kept.

Messages are pickles framed by their length, over the worker's standard input and
output; the worker writes anything else it prints to standard error. A worker that
fails or dies is closed, and its share is computed in the caller's process.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .collector import full_collections_deferred

__all__ = ["ProjectionWorker", "WorkerFailed", "serve", "serve_standard_streams", "shares"]

log = logging.getLogger(__name__)

Clique = tuple[str, ...]
#: what a worker process runs (:func:`dpquilt.graphical.projection.serve_as_worker`)
WORKER_ENTRY = "from dpquilt.graphical.projection import serve_as_worker; serve_as_worker()"
#: bytes of a message's length prefix
HEADER = struct.Struct("<Q")
#: a worker's BLAS and OpenMP run one thread: each worker already has a core of its own
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def shares(cliques: Sequence[Clique], columns: Sequence[str], weights: Sequence[float]) -> list[list[int]]:
    """The positions of ``cliques`` dealt into contiguous runs, one for each weight and of
    lengths in proportion to the weights, in order of their columns' places in
    ``columns`` (each clique's places sorted): cliques that carry the same leading
    columns fall in one run.

    Examples
    --------
    >>> shares([("c", "a"), ("b",), ("a", "b"), ("c",)], ["a", "b", "c"], [1.0, 1.0])
    [[2, 0], [1, 3]]
    >>> shares([("c", "a"), ("b",), ("a", "b"), ("c",)], ["a", "b", "c"], [1.0, 3.0])
    [[2], [0, 1, 3]]
    """
    place = {c: k for k, c in enumerate(columns)}
    order = sorted(range(len(cliques)), key=lambda i: sorted(place[c] for c in cliques[i]))
    ends = np.cumsum(weights, dtype=np.float64)
    bounds = [0, *(round(end * len(order) / ends[-1]) for end in ends)]
    return [order[bounds[k] : bounds[k + 1]] for k in range(len(weights))]


class ProjectionWorker:
    """One worker process: :meth:`submit` a share of a batch, then take its :meth:`result`.

    The process starts with the first request. A request is written on a thread of its
    own, so the caller goes on with its own share while a large model is sent (and while
    a new worker imports).

    Examples
    --------
    >>> from dpquilt.graphical.calibration import calibrate
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> d = {"a": 2, "b": 2, "c": 2}
    >>> tree = build_junction_tree(d, [("a", "b"), ("b", "c")])
    >>> same = np.log(np.array([[9.0, 1.0], [1.0, 9.0]]))
    >>> marginals = calibrate(tree, d, {("a", "b"): same, ("b", "c"): same}, total=100.0)
    >>> worker = ProjectionWorker()
    >>> worker.submit(tree, marginals, [("a", "c")], 100.0)
    >>> [m.round(6).tolist() for m in worker.result()[0]]
    [[[41.0, 9.0], [9.0, 41.0]]]
    >>> worker.close(); worker.alive
    False
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._sending: threading.Thread | None = None
        self._send_error: BaseException | None = None

    @property
    def alive(self) -> bool:
        """Whether the process runs."""
        return self._process is not None and self._process.poll() is None

    def submit(
        self, tree: object, marginals: Mapping[Clique, np.ndarray], cliques: Sequence[Clique], total: float, max_bytes: int = 2**30
    ) -> None:
        """Ask for the marginals over ``cliques`` of the model given by ``tree``, its node
        ``marginals`` (their dtype is the dtype the worker contracts in) and ``total``."""
        if not self.alive:
            self._start()
        message = pickle.dumps(("project", tree, dict(marginals), list(cliques), float(total), max_bytes), protocol=5)
        self._send_error = None
        self._sending = threading.Thread(target=self._send, args=(message,), daemon=True)
        self._sending.start()

    def result(self) -> tuple[list[np.ndarray], float]:
        """The marginals asked by the last :meth:`submit`, in its order, and the seconds the
        worker took over them (raises
        :class:`WorkerFailed`, after closing the worker, when it could not answer)."""
        try:
            if self._sending is not None:
                self._sending.join()
            if self._send_error is not None:
                raise WorkerFailed(f"could not send to the projection worker: {self._send_error!r}")
            if self._process is None or self._process.stdout is None:
                raise WorkerFailed("the projection worker stopped: it was not running")
            kind, payload = _read(self._process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError, struct.error) as error:
            self.close()
            raise WorkerFailed(f"the projection worker stopped: {error!r}") from error
        except WorkerFailed:
            self.close()
            raise
        if kind != "ok":
            self.close()
            raise WorkerFailed(f"the projection worker failed:\n{payload}")
        return payload

    def close(self) -> None:
        """End the process (it also ends by itself when its caller's process does)."""
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _start(self) -> None:
        env = dict(os.environ, **ONE_THREAD)
        package_root = str(Path(__file__).resolve().parents[2])  # where ``dpquilt`` is imported from
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-c", WORKER_ENTRY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )

    def _send(self, message: bytes) -> None:
        try:
            assert self._process is not None and self._process.stdin is not None
            _write(self._process.stdin, message)
        except BaseException as error:  # noqa: BLE001 - handed to result(), on the caller's thread
            self._send_error = error


class WorkerFailed(RuntimeError):
    """A projection worker could not answer; its share is to be computed elsewhere."""


def serve(requests: BinaryIO, replies: BinaryIO, plans: Any, project_many: Callable[..., list[np.ndarray]]) -> None:
    """The worker's loop: answer each request on ``requests`` on ``replies`` until the
    stream ends, with ``project_many`` (:func:`dpquilt.graphical.projection.project_many`,
    passed in: that module imports this one) and one ``plans`` for all of them, each batch
    on this thread alone, full collections deferred (see :mod:`dpquilt.graphical.collector`).

    Examples
    --------
    >>> import io
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> from dpquilt.graphical.projection import ProjectionPlans, project_many
    >>> tree = build_junction_tree({"a": 2}, [("a",)])
    >>> request = io.BytesIO()
    >>> _write(request, pickle.dumps(("project", tree, {("a",): np.array([3.0, 1.0])}, [("a",)], 4.0, 2**20)))
    >>> replies = io.BytesIO()
    >>> serve(io.BytesIO(request.getvalue()), replies, ProjectionPlans(), project_many)
    >>> _read(io.BytesIO(replies.getvalue()))[1][0][0].tolist()
    [3.0, 1.0]
    """
    with full_collections_deferred():
        while True:
            try:
                _, tree, marginals, cliques, total, max_bytes = _read(requests)
            except EOFError:
                return
            start = time.perf_counter()
            try:
                dtype = next(iter(marginals.values())).dtype.type if marginals else np.float64
                answer = project_many(tree, marginals, cliques, total, plans, max_bytes=max_bytes, dtype=dtype, parallel=False)
                reply = ("ok", ([np.asarray(m, dtype=dtype) for m in answer], time.perf_counter() - start))
            except Exception:  # noqa: BLE001 - reported to the caller, which computes the share itself
                reply = ("error", traceback.format_exc())
            _write(replies, pickle.dumps(reply, protocol=5))


def _write(stream: BinaryIO, message: bytes) -> None:
    stream.write(HEADER.pack(len(message)))
    stream.write(message)
    stream.flush()


def _read(stream: BinaryIO) -> tuple:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError("the stream ended")
    (size,) = HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        raise EOFError("the stream ended inside a message")
    return pickle.loads(body)


def serve_standard_streams(plans: Any, project_many: Callable[..., list[np.ndarray]]) -> None:
    """:func:`serve` requests on standard input, replies on standard output (anything printed
    goes to standard error): the worker process's body, run by
    :func:`dpquilt.graphical.projection.serve_as_worker`."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, replies, plans, project_many)
