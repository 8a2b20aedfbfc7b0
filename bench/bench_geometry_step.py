"""Seconds per geometry-stage step with the CPU raster backend, on the meshes the stage really
fits: the suite's reconstructed meshes (remeshed at 2 px, 25-55 k faces) at the last level of
the ``fast`` preset (256² images rasterized at 512² for the 2x supersampling, photo-consistency
channels on) — the loop the geometry stage spends its time in — with ``--views`` views per step:
4 by default, as the preset had when the first rows were timed (it has 8 since 177142b), so rows
stay comparable; the table records the count.

Usage: .venv/bin/python bench/bench_geometry_step.py --label NAME [--objects spot,knot] [--steps 12] [--views 4]

Needs the suite's captures and fits (``bench/bench_suite.py`` writes them to out/bench/suite/).
Each run appends one row per object to ``results/geometry_step.jsonl`` and rewrites
``results/geometry_step.md`` from all rows. To time an older revision, check it out in a
worktree and run this file with ``PYTHONPATH=<worktree>``: the rows record the revision.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from relight.data.capture_io import load_capture
from relight.data.mesh import load_mesh
from relight.geometry.config import load_config
from relight.geometry.fit import _GeometryFit, _level_data
from relight.geometry.raster import CpuRaster
from relight.geometry.state import GeometryState

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "out/bench/suite"
RESULTS = ROOT / "results/geometry_step"


def step_seconds(obj: str, steps: int, views: int) -> dict:
    """Median and mean seconds per step of the last level on ``obj``'s suite mesh (3 warm-up steps)."""
    cap = load_capture(SUITE / obj)
    cfg = load_config("fast", batch_views=views)
    mesh = load_mesh(SUITE / f"{obj}_fit/mesh.obj")
    ras = CpuRaster()
    level = cfg.levels - 1
    data = _level_data(cap, cfg, level, ras.device)
    st = GeometryState(mesh.vertices, mesh.faces, np.full((len(mesh.vertices), 3), 0.5, np.float32), cfg, ras)
    fit = _GeometryFit(cap, cfg, ras, st, level, data, None)
    rng = np.random.default_rng(0)
    times = []
    for i in range(steps + 3):
        t = time.perf_counter()
        fit.step(i, rng, 1.0)
        times.append(time.perf_counter() - t)
    times = times[3:]
    return {"object": obj, "faces": len(mesh.faces), "res": [r * cfg.supersample for r in data.res],
            "views": cfg.batch_views, "median_s": round(float(np.median(times)), 4),
            "mean_s": round(float(np.mean(times)), 4), "steps": steps}


def revision() -> str:
    import relight

    src = Path(relight.__file__).resolve().parent.parent
    out = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "relight"], capture_output=True, text=True)
    return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def write_md(rows: list[dict]) -> None:
    L = ["# Geometry stage: seconds per step (CPU raster backend)", "",
         "Last level of the `fast` preset on the suite's reconstructed meshes: *views* per step rasterized "
         "at 512² (256² with 2x supersampling), silhouette + photometric loss with the photo-consistency "
         "channels, backward, Large Steps solve and Adam. Median of the timed steps after 3 warm-up steps, "
         f"{torch.get_num_threads()} torch threads, alone on the machine unless the note says otherwise.", "",
         "Reproduce: `.venv/bin/python bench/bench_geometry_step.py --label NAME` (needs out/bench/suite "
         "from bench/bench_suite.py).", "",
         "| label | revision | object | faces | views | s/step (median) | s/step (mean) | date | note |",
         "|---|---|---|---|---|---|---|---|---|"]
    L += [f"| {r['label']} | {r['revision']} | {r['object']} | {r['faces']} | {r['views']} | {r['median_s']:.3f} | "
          f"{r['mean_s']:.3f} | {r['date']} | {r.get('note', '')} |" for r in rows]
    RESULTS.with_suffix(".md").write_text("\n".join(L) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True)
    ap.add_argument("--objects", default="spot,knot")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--views", type=int, default=4, help="views per step (the fast preset: 8)")
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    jl = RESULTS.with_suffix(".jsonl")
    rows = [json.loads(x) for x in jl.read_text().splitlines()] if jl.is_file() else []
    rev = revision()
    for obj in a.objects.split(","):
        r = step_seconds(obj, a.steps, a.views) | {"label": a.label, "revision": rev, "date": time.strftime("%Y-%m-%d"),
                                         "note": a.note}
        print(json.dumps(r))
        rows.append(r)
        with jl.open("a") as f:
            f.write(json.dumps(r) + "\n")
    write_md(rows)


if __name__ == "__main__":
    main()
