"""Progress reporting: stages take a :class:`Reporter` (rich bars in the CLI, silent in tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Reporter:
    """Silent base reporter; ``task`` yields an ``advance(n=1, **info)`` callable."""

    @contextmanager
    def task(self, description: str, total: int) -> Iterator:
        yield lambda n=1, **info: None

    def log(self, message: str) -> None:
        pass

    def resumed(self, description: str, step: int) -> None:
        """A loop continues from a checkpoint at ``step`` (called before its first step)."""
        self.log(f"{description}: resuming from the checkpoint at step {step}")


class RichReporter(Reporter):
    """Progress bars and messages on stderr through ``rich``."""

    def __init__(self):

        self.console = Console(stderr=True)

    @contextmanager
    def task(self, description: str, total: int) -> Iterator:

        cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
        with Progress(*cols, console=self.console, transient=False) as p:
            tid = p.add_task(description, total=total, info="")

            def advance(n=1, **info):
                p.update(tid, advance=n, info=" ".join(f"{k}={v}" for k, v in info.items()))

            yield advance

    def log(self, message: str) -> None:
        self.console.print(message)
