"""Child processes of a federated run: started in their own process group, always stopped.

Used by the Flower deployment (:mod:`dpquilt.federation.deploy`) and the cross-silo
parties (:mod:`dpquilt.federation.vertical.simulation`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["log_tail", "started_process", "stop_group"]


@contextlib.contextmanager
def started_process(cmd: list[str], log: Path, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """Start ``cmd`` in its own process group, output appended to ``log``; stop the whole group on exit.

    Examples
    --------
    >>> import sys, tempfile
    >>> log = Path(tempfile.mkdtemp()) / "child.log"
    >>> with started_process([sys.executable, "-c", "print('hello')"], log) as proc:
    ...     code = proc.wait()
    >>> code, log.read_text().strip()
    (0, 'hello')
    """
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        yield proc
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop ``proc``'s process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # children that left the group's leader behind
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file (or ``(no log)``)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
