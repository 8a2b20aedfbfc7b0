"""The one fit loop shared by the geometry and the material stage.

Both stages optimize the same way: a fixed number of steps split coarse-to-fine into levels,
a random view batch per step drawn from a per-step generator (so a resumed run draws the same
batches), an exponentially decaying learning rate, a checkpoint every ``checkpoint_every`` steps
and on Ctrl-C / SIGTERM (then :class:`~relight.runtime.interrupt.Interrupted`), and the median
step time at the finest level. :func:`run_loop` does all of that; a stage supplies only its
step and its state through the :class:`FitStage` protocol.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from relight.runtime.interrupt import Interrupted, graceful_stop
from relight.runtime.progress import Reporter


def level_of(step: int, iterations: int, levels: int, split) -> int:
    """Coarse-to-fine level (0 = coarsest) of ``step`` when ``split`` (normalised, padded with its
    last value to ``levels`` entries) gives each level's share of ``iterations``."""
    split = (list(split) + [split[-1]] * levels)[:levels]
    ends = np.cumsum(split) / np.sum(split) * iterations
    return int(min(levels - 1, np.searchsorted(ends, step, side="right")))


@dataclass(frozen=True)
class Schedule:
    """The loop's settings, read from a stage config that has these fields."""

    iterations: int
    levels: int
    level_split: tuple[float, ...]
    seed: int
    lr_decay: float
    """Final learning rate as a fraction of the initial one (exponential decay over all steps)."""
    checkpoint_every: int
    """Checkpoint every N steps (0: never, not even at the end)."""

    @classmethod
    def of(cls, cfg) -> Schedule:
        return cls(cfg.iterations, cfg.levels, tuple(cfg.level_split), cfg.seed, cfg.lr_decay, cfg.checkpoint_every)

    def level(self, step: int) -> int:
        return level_of(step, self.iterations, self.levels, self.level_split)

    def lr_scale(self, step: int) -> float:
        """Learning-rate factor of ``step``: ``lr_decay ** (step / (iterations - 1))``."""
        return self.lr_decay ** (step / max(self.iterations - 1, 1))

    def rng(self, step: int) -> np.random.Generator:
        """The step's own generator: the same batches and samples whether or not a run resumed."""
        return np.random.default_rng([self.seed, step])


class FitStage(Protocol):
    """What a stage gives :func:`run_loop`."""

    name: str
    """Stage name for the progress bar and the interruption message."""

    def enter_level(self, level: int) -> None:
        """Make ``level`` current (called before every step; a no-op when it already is)."""

    def step(self, step: int, rng: np.random.Generator, lr_scale: float) -> float:
        """Take optimization step number ``step`` (0-based); return its loss value."""

    def progress(self) -> dict:
        """Extra fields for the progress line."""

    def save_checkpoint(self, path: Path, step: int, level: int, losses: list[float]) -> None:
        """Write the state after ``step`` steps atomically into the folder ``path``."""


@dataclass(frozen=True)
class LoopResult:
    step: int
    """Steps done (the schedule's iterations unless stopped early with ``stop_at``)."""
    level: int
    seconds_per_step: float
    """Median wall time of a step at the finest level (0 when none ran there)."""


def run_loop(stage: FitStage, schedule: Schedule, *, step: int = 0, level: int = 0,
             losses: list[float] | None = None, checkpoint_dir: Path | None = None,
             stop_at: int | None = None, reporter: Reporter | None = None,
             resuming: bool | None = None) -> LoopResult:
    """Run ``stage`` from step ``step`` (at ``level``) to the end of ``schedule``.

    Appends each step's loss to ``losses``. ``stop_at`` ends after that many steps as an
    interruption would (checkpoint written) so that a resumed run can continue it. ``resuming``
    (default: ``step > 0``) says whether to announce a resumed run.
    """
    rep = reporter or Reporter()
    losses = [] if losses is None else losses
    end = min(schedule.iterations, stop_at or schedule.iterations)
    times = []
    with rep.task(stage.name, schedule.iterations) as advance, graceful_stop() as stop:
        if step if resuming is None else resuming:
            rep.resumed(stage.name, step)
        advance(step)
        while step < end:
            ts = time.perf_counter()
            level = schedule.level(step)
            stage.enter_level(level)
            value = stage.step(step, schedule.rng(step), schedule.lr_scale(step))
            step += 1
            losses.append(value)
            times.append((level, time.perf_counter() - ts))
            advance(1, loss=f"{value:.4f}", level=level, **stage.progress())
            periodic = schedule.checkpoint_every and step % schedule.checkpoint_every == 0
            if checkpoint_dir and (periodic or stop.requested):  # Ctrl-C / SIGTERM: checkpoint, then stop
                stage.save_checkpoint(checkpoint_dir, step, level, losses)
            if stop.requested:
                raise Interrupted(stage.name, step, schedule.iterations, checkpoint_dir)
    if checkpoint_dir and schedule.checkpoint_every:
        stage.save_checkpoint(checkpoint_dir, step, level, losses)
    finest = [t for lv, t in times if lv == schedule.levels - 1]
    return LoopResult(step, level, float(np.median(finest)) if finest else 0.0)
