"""User-facing errors: one line naming the file, what is wrong and how to fix it.

Every error that bad input can cause is raised as a :class:`RelightError`; the CLI prints
``error: <message>`` on stderr and exits with code 2 (no traceback).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

EXIT_USAGE = 2


class RelightError(Exception):
    """An error caused by input or environment, with a one-line explanation and a fix."""

    def __init__(self, problem: str, *, path: str | Path | None = None, fix: str | None = None):
        self.path = None if path is None else str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = []
        if self.path:
            parts.append(f"{self.path}:")
        parts.append(self.problem.rstrip("."))
        msg = " ".join(parts)
        if self.fix:
            msg += f" — fix: {self.fix.rstrip('.')}"
        return msg.replace("\n", " ")


class BackendError(RelightError):
    """The requested compute backend (LLVM / CUDA) is not usable on this machine."""


def require_finite(arrays: dict, stage: str, fix: str) -> None:
    """Raise a one-line error when any of ``arrays`` (name -> array) holds NaN or Inf: a numerical
    blow-up ends in a clear message, never in a written NaN asset."""
    bad = [k for k, a in arrays.items() if a is not None and not np.isfinite(np.asarray(a)).all()]
    if bad:
        raise RelightError(f"the {stage} stage produced non-finite values in {', '.join(bad)} "
                           "(a numerical blow-up); nothing was written", fix=fix)
