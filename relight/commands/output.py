"""The one output helper of every command: checks before the work, atomic writing after it.

:func:`command_output` is a context manager around a command's whole run. Before any work it
refuses an existing output (without ``overwrite``) or an unwritable location and checks the memory
estimate; it owns the hidden checkpoint folder (``.OUT.ckpt`` beside the output: cleared unless
resuming, removed after success, kept after a failure or an interruption so ``--resume`` can
continue). :meth:`Output.folder` then writes the output folder atomically (a temporary sibling
renamed on success), and :meth:`Output.write_metrics` / :func:`plot_losses` write the metrics
and loss plots every fitting command leaves.

Commands run inside another command's output (``relight demo`` runs synth, fit, render, ... into
one folder) take ``within=`` that output: they still name their **final** paths (what provenance
records) and :meth:`Output.locate` maps a final path to where it lies while the outer folder is
being written.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relight.evaluation.evaluate import EvalResult
from relight.runtime.paths import (
    atomic_dir,
    check_disjoint,
    check_output_dir,
    check_output_name,
    output_lock,
)
from relight.runtime.resources import MemoryEstimate, check_memory


def checkpoint_dir_for(out: Path) -> Path:
    """Where a stage writing ``out`` keeps its checkpoints (a hidden sibling folder)."""
    out = Path(out)
    return out.parent / f".{out.name}.ckpt"


@dataclass
class Output:
    """One command's output while it runs."""

    final: Path
    """Where the output will be once written: the path recorded as provenance."""
    path: Path
    """Where it is written (``final``, or its place inside an enclosing output being written)."""
    overwrite: bool = False
    checkpoints: Path | None = None
    """The hidden checkpoint folder, for commands that checkpoint."""
    within: Output | None = None
    staging: Path | None = None
    """The temporary folder while :meth:`folder` is open."""

    def locate(self, path: Path | str | None) -> Path | None:
        """Where the final path ``path`` lies now: inside an enclosing output that is being
        written, its place in that output's temporary folder; otherwise ``path`` itself."""
        if path is None:
            return None
        path = Path(path)
        out: Output | None = self
        while out is not None:
            if out.staging is not None and path.is_relative_to(out.final):
                return out.staging / path.relative_to(out.final)
            out = out.within
        return path

    @contextmanager
    def folder(self) -> Iterator[Path]:
        """Yield a temporary folder that replaces the output in one rename on success."""
        with atomic_dir(self.path, self.overwrite) as tmp:
            self.staging = tmp
            try:
                yield tmp
            finally:
                self.staging = None

    def write_metrics(self, folder: Path, metrics: EvalResult) -> None:
        """``metrics.json`` and ``metrics.md`` of an evaluation into ``folder``."""
        (folder / "metrics.json").write_text(json.dumps(metrics.to_json(), indent=2) + "\n")
        (folder / "metrics.md").write_text(metrics.to_markdown())


def locate(within: Output | None, path: Path | str | None) -> Path | None:
    """Where ``path`` lies now: :meth:`Output.locate` of ``within``, or ``path`` itself without one."""
    if within is None:
        return None if path is None else Path(path)
    return within.locate(path)


@contextmanager
def command_output(out: Path, *, overwrite: bool = False, command: str = "relight",
                   inputs: Sequence[Path | None] = (), memory: Callable[[], MemoryEstimate] | None = None,
                   max_memory: str | int | None = None, fix: str = "", checkpoints: bool = False,
                   resume: bool = False, within: Output | None = None) -> Iterator[Output]:
    """Check the output location (a usable name, not overlapping any of ``inputs``, not existing
    unless ``overwrite``, writable, not being written by another run) and the memory estimate,
    manage the checkpoint folder; yield the :class:`Output` (see the module docstring)."""
    out = Path(out)
    check_output_name(out)
    path = locate(within, out)
    check_disjoint(path, [locate(within, i) for i in inputs])
    check_output_dir(path, overwrite)
    with nullcontext() if within is not None else output_lock(path):
        if memory is not None:  # a callable: estimated after the output checks, as inputs are read
            check_memory(memory(), max_memory, command, fix)
        ckpt = None
        if checkpoints:
            ckpt = checkpoint_dir_for(path)
            if not resume and ckpt.exists():
                shutil.rmtree(ckpt)
        yield Output(out, path, overwrite, ckpt, within)
        if ckpt is not None:
            shutil.rmtree(ckpt, ignore_errors=True)


def plot_losses(losses: list[float], path: Path, title: str) -> None:
    """Loss curve (log scale, with a moving average) as a PNG."""
    import matplotlib  # heavy, optional at import time: only commands that plot load it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    x = np.arange(1, len(losses) + 1)
    ax.plot(x, losses, lw=0.6, alpha=0.5, label="loss")
    k = max(1, len(losses) // 25)
    if len(losses) > k:
        ax.plot(x[k - 1:], np.convolve(losses, np.ones(k) / k, mode="valid"), lw=1.5, label=f"mean of {k}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
