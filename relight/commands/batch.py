"""``relight batch``: a manifest of captures, each reconstructed by one Ray task.

The output folder is meant to be rerun: a capture with a ``done.json`` made with the same settings
is skipped, an unfinished one resumes from its checkpoints, one finished with other settings is
reported (not overwritten). Exit status: 0 when every capture is done or skipped, 1 when at least
one failed (each with its one-line error in ``batch.json``/``batch.md``), 2 for a bad manifest or
option (nothing written), 130 after Ctrl-C (running captures keep their checkpoints).
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from relight.commands.batching.cluster import (
    ClusterOptions,
    connect,
    estimate_item,
    run_tasks,
)
from relight.commands.batching.manifest import BatchItem, load_manifest
from relight.commands.batching.report import BatchState
from relight.commands.batching.task import DONE, new_record, settings_key
from relight.runtime.errors import RelightError
from relight.runtime.paths import check_disjoint, check_output_name, output_lock

EXIT_FAILED = 1


@dataclass(frozen=True)
class BatchResult:
    state: BatchState

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.state.count("failed") else 0


def _finished(item: BatchItem, out: Path) -> dict | None:
    """The record of a capture finished earlier: skipped with the same settings, failed with others."""
    f = out / item.name / DONE
    if not f.is_file():
        return None
    try:
        rec = json.loads(f.read_text())
    except (OSError, ValueError):
        return None  # a damaged marker: the stages' outputs decide what is redone
    if rec.get("made_with") != settings_key(item):
        return rec | {"status": "failed", "error": RelightError(
            "finished earlier with other settings or another capture path", path=out / item.name,
            fix="remove this folder to redo it, or write the batch to another -o").one_line()}
    return rec | {"status": "skipped"}


def run(manifest: Path, out: Path, opts: ClusterOptions, *, preset: str | None = None, live: bool = True,
        log=print) -> BatchResult:
    """Run the batch of ``manifest`` into ``out`` (see the module docstring)."""
    items = load_manifest(manifest, preset)
    check_output_name(out)
    check_disjoint(out, [manifest, *(it.path for it in items)])
    if out.exists() and not out.is_dir():
        raise RelightError("the batch output is a file, not a folder", path=out, fix="choose another -o folder")
    state = BatchState(out, [it.name for it in items], opts.workers)
    todo = []
    with output_lock(out):
        for it in items:
            rec = _finished(it, out)
            if rec is None:
                todo.append(it)
            else:
                state.records[it.name] = rec
        estimates = {}
        for it in list(todo):  # from headers, before Ray starts: a broken capture fails at once
            try:
                estimates[it.name] = estimate_item(it, opts.device)
            except RelightError as e:
                state.records[it.name] = new_record(it, error=e.one_line())
                todo.remove(it)
        if todo:  # before anything is written: a cluster that cannot be joined leaves no trace
            t = time.perf_counter()
            connect(opts)
            state.ray_start_seconds = round(time.perf_counter() - t, 2)
        try:
            out.mkdir(parents=True, exist_ok=True)
            state.write()
            if todo:
                _run(todo, estimates, out, opts, state, live, log)
        finally:
            state.running.clear()
            if out.is_dir():
                state.write()
            if todo:
                import ray

                ray.shutdown()
    log(f"wrote {out / 'batch.md'}: {state.summary()}")
    return BatchResult(state)


def _run(todo: list[BatchItem], estimates: dict, out: Path, opts: ClusterOptions, state: BatchState, live: bool,
         log) -> None:
    def on_event(kind: str, item: BatchItem | None, rec: dict | None) -> None:
        if kind == "waiting":
            log(f"{item.name} waits: {rec['error']} — the cluster's autoscaler must add such a node "
                "(Ctrl-C to stop)")
        elif kind == "submitted":
            state.running.add(item.name)
        elif kind == "finished":
            state.running.discard(item.name)
            state.records[item.name] = rec
            state.write()
            if not live:
                log(f"{item.name}: {rec['status']}" + (f" — {rec['error']}" if rec.get("error") else ""))
        if view is not None:
            view.update(state.renderable())

    view = None
    ctx = nullcontext()
    if live:
        from rich.console import Console
        from rich.live import Live

        ctx = view = Live(state.renderable(), console=Console(stderr=True), refresh_per_second=2)
    with ctx:
        run_tasks(todo, estimates, out, opts, on_event)
