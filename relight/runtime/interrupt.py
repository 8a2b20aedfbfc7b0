"""Graceful interruption of long optimizations.

While :func:`graceful_stop` is active, the first Ctrl-C (SIGINT) or SIGTERM only raises a flag;
the optimization loop notices it at the next step boundary, writes a checkpoint of a consistent
state and raises :class:`Interrupted`, which the CLI turns into one line saying where the
checkpoint is and which command resumes. A second Ctrl-C interrupts at once (the last periodic
checkpoint is then the resume point, as after a SIGKILL).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Interrupted(KeyboardInterrupt):
    """A stage stopped on request after writing its checkpoint."""

    def __init__(self, stage: str, step: int, total: int, checkpoint: Path | None):
        self.stage, self.step, self.total, self.checkpoint = stage, step, total, checkpoint
        where = f"checkpoint in {checkpoint}" if checkpoint else "no checkpoint (none requested)"
        super().__init__(f"{stage} stage stopped at step {step}/{total}; {where}")


class StopFlag:
    """Set by the signal handler; the loops read ``requested`` between steps."""

    def __init__(self) -> None:
        self.requested = False


_NEVER = StopFlag()


@contextmanager
def graceful_stop() -> Iterator[StopFlag]:
    """Install the SIGINT/SIGTERM handlers for the duration of a loop (main thread only;
    elsewhere the returned flag never rises and signals keep their default behaviour)."""
    if threading.current_thread() is not threading.main_thread():
        yield _NEVER
        return
    flag = StopFlag()

    def on_signal(signum, frame):
        flag.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops at once

    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, on_signal)
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)
