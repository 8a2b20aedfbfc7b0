"""One capture of a batch, start to finish: the function a Ray task runs (plain Python, no Ray).

The capture's folder ``OUT/<name>/`` holds what the single commands would write::

    capture/          relight poses (only for a folder of photos)
    asset/            relight fit (metrics.json in it when the capture has a test split)
    render/           relight render
    export/glb/<name>.glb, export/obj/<name>.obj   relight export
    done.json         written last: the record of the finished capture (the done marker)

and ``OUT/.batch/<name>/`` the bookkeeping: ``status.json`` (attempt, PID, stage, step; what the
live view reads), ``attempts`` (one line per start) and ``log.txt`` (the stages' messages).

Every stage is **idempotent**: an output that exists is complete (each command writes its folder
atomically) and is not redone; ``fit`` always runs with ``resume``, so a task that Ray retries
after its worker died continues from the fit's last checkpoint instead of from step 0.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from relight.commands.batching.manifest import BatchItem
from relight.data.capture_io import find_transforms
from relight.runtime.config import to_dict
from relight.runtime.errors import RelightError
from relight.runtime.interrupt import Interrupted
from relight.runtime.paths import write_text_atomic
from relight.runtime.progress import Reporter

DONE = "done.json"


def bookkeeping(out_dir: Path, name: str) -> Path:
    """The hidden folder of one capture's batch bookkeeping."""
    return Path(out_dir) / ".batch" / name


def settings_key(item: BatchItem) -> dict:
    """What a finished capture was made with (recorded in ``done.json``, compared on a rerun)."""
    return {"path": str(item.path), "settings": to_dict(item.settings), "geometry": to_dict(item.geometry),
            "material": to_dict(item.material)}


def needs_poses(path: Path) -> bool:
    """A folder the capture loader cannot read (no transforms JSON: photos) needs the poses stage."""
    try:
        find_transforms(Path(path), "train")
    except RelightError:
        return True
    return False


def new_record(item: BatchItem, status: str = "failed", error: str | None = None, attempts: int = 0,
               host: str | None = None) -> dict:
    """A capture's record as batch.json lists it (the task fills in seconds, metrics, outputs)."""
    return {"name": item.name, "path": str(item.path), "status": status, "error": error, "attempts": attempts,
            "seconds": {}, "metrics": {}, "resumed": {}, "host": host, "outputs": {}}


class TaskReporter(Reporter):
    """Writes the stages' messages to ``log.txt`` and their progress to ``status.json`` (at most
    once a second); remembers the step each stage started at (> 0: resumed from a checkpoint)."""

    def __init__(self, folder: Path, status: dict):
        self.folder, self.status = folder, status
        self.resumed_at: dict[str, int] = {}
        self._last = 0.0

    def write_status(self, force: bool = False) -> None:
        now = time.time()
        if force or now - self._last >= 1.0:
            self._last = now
            write_text_atomic(self.folder / "status.json", json.dumps(self.status | {"updated": now}) + "\n")

    def log(self, message: str) -> None:
        with open(self.folder / "log.txt", "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} [{self.status['stage']}] {message}\n")

    def resumed(self, description: str, step: int) -> None:
        self.resumed_at[description] = step
        self.log(f"{description}: resumed from the checkpoint at step {step}")

    @contextmanager
    def task(self, description: str, total: int) -> Iterator:
        def advance(n=1, **info):
            self.status.update(task=description, step=self.status["step"] + n, total=total)
            self.write_status()

        self.status.update(task=description, step=0, total=total)
        self.write_status(force=True)
        yield advance


def _metrics(asset: Path) -> dict:
    """The headline numbers of ``asset/metrics.json`` (when the fit evaluated)."""
    f = asset / "metrics.json"
    if not f.is_file():
        return {}
    m = json.loads(f.read_text())
    keys = ("relight_psnr_mean", "relight_ssim_mean", "albedo_psnr", "roughness_mae", "novel_view_psnr",
            "novel_view_ssim", "mask_iou", "normal_mae", "chamfer")
    return {k: m[k] for k in keys if m.get(k) is not None}


def run_capture(item: BatchItem, out_dir: Path, device: str = "cpu", threads: int = 0) -> dict:
    """Run ``item``'s stages into ``out_dir/<name>``; return its record (also ``done.json`` on
    success). Bad input ends in ``status = "failed"`` with the one-line error, never a raise;
    ``threads`` > 0 caps the CPU threads of Dr.Jit and torch (a task's share of the machine)."""
    out_dir = Path(out_dir)
    folder, book = out_dir / item.name, bookkeeping(out_dir, item.name)
    book.mkdir(parents=True, exist_ok=True)
    with open(book / "attempts", "a") as f:
        f.write(f"{time.time():.3f} {socket.gethostname()} {os.getpid()}\n")
    attempts = len((book / "attempts").read_text().splitlines())
    status = {"name": item.name, "attempt": attempts, "pid": os.getpid(), "host": socket.gethostname(),
              "stage": "start", "started": time.time()}
    rep = TaskReporter(book, status)
    rec = new_record(item, attempts=attempts, host=status["host"])
    t_all = time.perf_counter()
    try:
        if threads > 0:
            _cap_threads(threads)
        _stages(item, folder, device, rep, rec)
        rec["status"] = "done"
    except RelightError as e:
        rec["error"] = e.one_line()
    except (Interrupted, KeyboardInterrupt) as e:
        rec["status"], rec["error"] = "interrupted", f"stopped in the {status['stage']} stage ({e}); rerun to resume"
    except Exception as e:  # a bug, not the input: the record says where the traceback is
        rep.log(traceback.format_exc())
        rec["error"] = f"internal error {type(e).__name__}: {e} (traceback in {book / 'log.txt'})"
    rec["resumed"] = rep.resumed_at
    rec["seconds"]["task"] = round(time.perf_counter() - t_all, 2)
    rec["peak_rss_mib"] = round(_peak_rss() / 2**20)
    status.update(stage=rec["status"])
    rep.write_status(force=True)
    rep.log(f"{rec['status']}" + (f": {rec['error']}" if rec["error"] else ""))
    if rec["status"] == "done":
        rec["made_with"] = settings_key(item)
        write_text_atomic(folder / DONE, json.dumps(rec, indent=2) + "\n")
    return rec


def _peak_rss() -> int:
    """Peak resident memory of this process (the worker: one capture, ``max_calls=1``), bytes."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cap_threads(n: int) -> None:
    import drjit as dr
    import torch

    torch.set_num_threads(n)
    dr.set_thread_count(n)


def _timed(rec: dict, rep: TaskReporter, stage: str):
    rep.status.update(stage=stage, task=None, step=0, total=0)
    rep.write_status(force=True)
    t = time.perf_counter()
    return lambda: rec["seconds"].__setitem__(stage, round(time.perf_counter() - t, 2))


def _stages(item: BatchItem, folder: Path, device: str, rep: TaskReporter, rec: dict) -> None:
    done = _timed(rec, rep, "startup")  # torch, Mitsuba and the variant: what every new process pays
    from relight.commands import export, fit, poses, render
    from relight.runtime.backend import select_backend

    backend = select_backend(device)
    backend.mitsuba()
    done()
    s = item.settings
    folder.mkdir(parents=True, exist_ok=True)
    capture = item.path
    if needs_poses(item.path):
        if "poses" not in s.stages:
            raise RelightError("a folder of photos (no transforms.json) needs the poses stage", path=item.path,
                               fix='add "poses" to the stages of this capture')
        capture = folder / "capture"
        if not capture.is_dir():
            done = _timed(rec, rep, "poses")
            masks = item.path / ("masks" if s.poses.masks == "auto" else s.poses.masks)
            if s.poses.masks == "auto" and not masks.is_dir():  # no masks of its own: make them
                masks = "auto"
            poses.run(item.path, capture, masks=masks, light_frame=s.poses.light_frame, reporter=rep)
            done()
        rec["outputs"]["capture"] = str(capture)
    if "fit" not in s.stages:
        return
    asset = folder / "asset"
    if not asset.is_dir():
        done = _timed(rec, rep, "fit")
        res = fit.run(capture, asset, item.geometry, item.material, backend, resume=True,
                      evaluate_after="eval" in s.stages, downscale=s.downscale, holdout_every=s.holdout_every,
                      reporter=rep)
        done()
        rec["seconds"].update(geometry=round(res.geometry.seconds, 2), unwrap=round(res.unwrap_seconds, 2),
                              material=round(res.material_seconds, 2))
    rec["outputs"]["asset"] = str(asset)
    rec["metrics"] = _metrics(asset)
    if "render" in s.stages:
        target = folder / "render"
        if not target.is_dir():
            done = _timed(rec, rep, "render")
            r = s.render
            render.run(asset, target, backend, envmap=Path(r.envmap) if r.envmap else None, orbit=r.orbit,
                       res=r.res, spp=r.spp, reporter=rep)
            done()
        rec["outputs"]["render"] = str(target)
    if "export" in s.stages:
        for fmt in s.export:
            target = folder / "export" / fmt / f"{item.name}.{fmt}"
            if not target.is_file():
                done = _timed(rec, rep, f"export_{fmt}")
                target.parent.mkdir(parents=True, exist_ok=True)
                export.run(asset, target, fmt)
                done()
            rec["outputs"][fmt] = str(target)
