"""What a batch tells: ``batch.json`` / ``batch.md`` (rewritten as each capture finishes) and the
live view (captures done / running / failed, ETA, and the stage and step of each running one,
read from the tasks' ``status.json`` files)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from relight.commands.batching.task import bookkeeping
from relight.runtime.paths import write_text_atomic

FINAL = ("done", "skipped", "failed", "interrupted")


@dataclass
class BatchState:
    """The batch while it runs: every capture's record (None while queued or running)."""

    out_dir: Path
    names: list[str]
    workers: int
    records: dict[str, dict] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    """Captures whose task is submitted and not finished."""
    started: float = field(default_factory=time.time)
    ray_start_seconds: float | None = None
    """Time to start (or join) Ray, None when nothing ran."""

    def count(self, status: str) -> int:
        return sum(1 for r in self.records.values() if r["status"] == status)

    @property
    def remaining(self) -> int:
        return len(self.names) - len(self.records)

    def eta_seconds(self) -> float | None:
        """Remaining captures x mean task time of this run's finished ones / tasks in parallel."""
        times = [r["seconds"].get("task", 0.0) for r in self.records.values() if r["status"] == "done"
                 and r["seconds"].get("task")]
        if not times or not self.remaining:
            return None if self.remaining else 0.0
        return self.remaining * (sum(times) / len(times)) / max(1, min(self.workers, self.remaining))

    def summary(self) -> str:
        eta = self.eta_seconds()
        eta_s = "—" if eta is None else f"{eta / 60:.1f} min"
        queued = self.remaining - len(self.running)
        return (f"done {self.count('done')} · skipped {self.count('skipped')} · running {len(self.running)} · "
                f"queued {queued} · failed {self.count('failed')} · elapsed {(time.time() - self.started) / 60:.1f} "
                f"min · ETA {eta_s}")

    def running_rows(self) -> list[tuple[str, str]]:
        """(name, "stage task step/total (attempt k)") of each running capture."""
        rows = []
        for name in sorted(self.running):
            try:
                st = json.loads((bookkeeping(self.out_dir, name) / "status.json").read_text())
            except (OSError, ValueError):
                rows.append((name, "starting"))
                continue
            step = f" {st.get('task')} {st.get('step', 0)}/{st.get('total', 0)}" if st.get("task") else ""
            rows.append((name, f"{st.get('stage')}{step} (attempt {st.get('attempt', 1)}, pid {st.get('pid')})"))
        return rows

    def renderable(self):
        from rich.table import Table

        t = Table(title=self.summary(), title_justify="left", show_header=False, box=None)
        for name, what in self.running_rows():
            t.add_row(name, what)
        return t

    def to_json(self) -> dict:
        return {"out_dir": str(self.out_dir), "started": self.started, "elapsed_seconds": round(time.time() -
                                                                                                self.started, 2),
                "ray_start_seconds": self.ray_start_seconds,
                "counts": {s: self.count(s) for s in FINAL} | {"not_run": self.remaining},
                "captures": [self.records.get(n, {"name": n, "status": "not run"}) for n in self.names]}

    def write(self) -> None:
        """``batch.json`` and ``batch.md`` in the output folder (atomic: a reader never sees half)."""
        write_text_atomic(self.out_dir / "batch.json", json.dumps(self.to_json(), indent=2) + "\n")
        write_text_atomic(self.out_dir / "batch.md", self.markdown())

    def markdown(self) -> str:
        lines = ["# relight batch", "", self.summary().replace(" · running 0 · queued 0", ""), "",
                 "| capture | status | attempts | seconds (task: stages) | relight PSNR | novel-view PSNR | error |",
                 "|---|---|---|---|---|---|---|"]
        for n in self.names:
            r = self.records.get(n, {"status": "not run", "seconds": {}, "metrics": {}})
            sec = r.get("seconds", {})
            stages = ", ".join(f"{k} {v:.0f}" for k, v in sec.items() if k != "task")
            times = f"{sec['task']:.0f}: {stages}" if "task" in sec else stages
            psnr = [_num(r.get("metrics", {}).get(k)) for k in ("relight_psnr_mean", "novel_view_psnr")]
            err = (r.get("error") or "").replace("|", "\\|")
            lines.append(f"| {n} | {r['status']} | {r.get('attempts', 0)} | {times} | {psnr[0]} | {psnr[1]} | {err} |")
        return "\n".join(lines) + "\n"


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"
