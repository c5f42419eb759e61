"""Several readers of the same rows side by side, their tallies answered together in shared passes.

Schema learning reads one column at a time, a few tallies per column, each depending on
the noisy answer to the one before; on partitioned rows every tally is a pass over the
table. The columns' readers do not depend on each other, so :func:`run_side_by_side`
runs each in its own thread and answers the tallies they ask at the same time in one
pass (:class:`_CombinedJob`: one tuple of tallies per part).

Only one reader runs at a time, always in the order given: a reader holds the baton
until it asks for a tally or returns; when every reader waits or is done, one pass
answers all the waiting tallies and the readers resume in order. So everything they
draw from a generator or spend through an accountant happens in one order that depends
on the answers only, never on thread timing or on how the rows are split.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pandas as pd

from .engine import RowEngine, Tally, TallyJob

__all__ = ["run_side_by_side"]

T = TypeVar("T")


class _Stopped(Exception):
    """Raised in a waiting reader when another reader failed."""


class _Baton:
    """Whose turn it is, the tallies asked and their answers (shared by the readers and the driver)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.turn: int | None = None
        self.asked: dict[int, tuple[TallyJob, list[str] | None]] = {}
        self.answers: dict[int, Tally] = {}
        self.stopped = False


class _ReaderRows:
    """The rows as reader ``index`` sees them: its tallies wait for the shared pass."""

    def __init__(self, rows: RowEngine, baton: _Baton, index: int) -> None:
        self.rows, self.baton, self.index = rows, baton, index

    @property
    def columns(self) -> tuple[str, ...]:
        return self.rows.columns

    @property
    def dtypes(self) -> pd.Series:
        return self.rows.dtypes

    def meta(self) -> pd.DataFrame:
        return self.rows.meta()

    def tally(self, job: TallyJob, columns: Sequence[str] | None = None) -> Tally:
        baton = self.baton
        with baton.cond:
            baton.asked[self.index] = (job, None if columns is None else list(columns))
            baton.turn = None  # hand the baton back: the driver lets the next reader run
            baton.cond.notify_all()
            baton.cond.wait_for(lambda: baton.turn == self.index or baton.stopped)
            if baton.stopped:
                raise _Stopped
            return baton.answers.pop(self.index)


class _CombinedJob:
    """Every waiting reader's job on one part, each on its own columns (a class, so workers can unpickle it)."""

    def __init__(self, jobs: list[tuple[TallyJob, list[str] | None]]) -> None:
        self.jobs = jobs

    def __call__(self, part: pd.DataFrame) -> tuple[Tally, ...]:
        return tuple(job(part if columns is None else part[columns]) for job, columns in self.jobs)


def run_side_by_side(rows: RowEngine, readers: Sequence[Callable[[RowEngine], T]]) -> list[T]:
    """``[reader(rows) for reader in readers]``, with the tallies they ask at the same time
    answered in one pass over ``rows``.

    Each reader must use only the engine it is handed to read rows (and nothing another
    reader changes). A reader's error is raised here, after the others stop.

    Examples
    --------
    >>> from dpquilt.rows import InMemoryRows
    >>> import numpy as np
    >>> rows = InMemoryRows(pd.DataFrame({"a": [0, 1, 1], "b": [2, 2, 0]}))
    >>> def largest(name):
    ...     return lambda engine: int(np.argmax(engine.tally(lambda part: np.bincount(part[name], minlength=3), [name])))
    >>> run_side_by_side(rows, [largest("a"), largest("b")])
    [1, 2]
    """
    if len(readers) <= 1:
        return [reader(rows) for reader in readers]
    baton = _Baton()
    results: list[Any] = [None] * len(readers)
    errors: dict[int, BaseException] = {}

    def run(index: int) -> None:
        with baton.cond:
            baton.cond.wait_for(lambda: baton.turn == index or baton.stopped)
        try:
            if not baton.stopped:
                results[index] = readers[index](_ReaderRows(rows, baton, index))
        except _Stopped:
            pass
        except BaseException as error:  # raised in the driver, in reader order
            errors[index] = error
        with baton.cond:
            baton.turn = None
            baton.cond.notify_all()

    threads = [threading.Thread(target=run, args=(i,), daemon=True, name=f"dpquilt-reader-{i}")
               for i in range(len(readers))]
    for thread in threads:
        thread.start()
    try:
        to_run = list(range(len(readers)))
        while to_run:
            for index in to_run:
                with baton.cond:
                    baton.turn = index
                    baton.cond.notify_all()
                    baton.cond.wait_for(lambda: baton.turn is None)
                if errors:
                    raise errors[min(errors)]
            asked = sorted(baton.asked.items())
            baton.asked = {}
            if asked:
                answers = rows.tally(_CombinedJob([request for _, request in asked]), _union(asked))
                baton.answers = {index: answer for (index, _), answer in zip(asked, answers)}
            to_run = [index for index, _ in asked]
    finally:  # done, or failed: a reader still waiting for an answer stops
        with baton.cond:
            baton.stopped = True
            baton.cond.notify_all()
        for thread in threads:
            thread.join()
    return results


def _union(asked: list[tuple[int, tuple[TallyJob, list[str] | None]]]) -> list[str] | None:
    """The columns every waiting job needs, in first-asked order (``None``: some job reads all)."""
    names: list[str] = []
    for _, (_, columns) in asked:
        if columns is None:
            return None
        names += [c for c in columns if c not in names]
    return names
