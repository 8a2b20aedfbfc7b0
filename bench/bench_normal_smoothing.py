"""Shading normals from a smoothed copy of the reconstructed mesh (issue 18's shading-normal lever).

For each object's suite fit (``out/bench/suite/<object>_fit``: the mesh the geometry stage made,
unwrapped), the shading normals are replaced by those of a copy smoothed by k Taubin iterations
(:func:`relight.geometry.remesh.shading_normals`; positions unchanged) and scored on the test views:
normal MAE against the GT normals (ray-cast, as ``relight eval``) and, with ``--ceiling``, the
mesh's relighting ceiling (GT materials and light transferred at 512², bench_mesh_ceiling; 256 spp).
k = 0 is the mesh's own normals (the geometry stage's default,
``normal_smoothing`` = 0). Rows go to results/normal_smoothing.jsonl; results/normal_smoothing.md is rewritten.

Usage: .venv/bin/python bench/bench_normal_smoothing.py spot knot blob vase bottle [--iterations 0 2 5 10 20]
           [--ceiling 0 5] [--suite DIR]  (DIR/OBJ: a capture with gt/, DIR/OBJ_fit: its fit)
       .venv/bin/python bench/bench_normal_smoothing.py --markdown
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rows import append_row, rewrite_markdown

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "out/bench/suite"
OUT = ROOT / "results/normal_smoothing"


def normal_mae_on(asset, test, backend) -> float:
    """Normal MAE (degrees) of ``asset``'s shading normals on the ``test`` views against the GT
    normals, over the pixels both cover (as ``relight eval``)."""
    from relight.evaluation.evaluate import covered_pixels
    from relight.evaluation.metrics import normal_mae
    from relight.render.mitsuba import build_scene, surface_aovs

    scene = build_scene(backend, asset, 2)
    aov = [surface_aovs(backend, scene, asset, c) for c in test.cameras]
    return normal_mae(np.stack([a["normals"] for a in aov]), test.gt.normals, covered_pixels(aov, test.masks))


def run(obj: str, iterations: list[int], ceiling: list[int], suite: Path = SUITE) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_mesh_ceiling import oracle_asset

    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.evaluation.evaluate import evaluate
    from relight.geometry.remesh import shading_normals
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    splits, gt = load_splits(suite / obj), load_asset(suite / obj / "gt")
    fit = load_asset(suite / f"{obj}_fit")
    row = {"object": obj + ("" if suite == SUITE else f" ({suite / obj})"), "date": time.strftime("%Y-%m-%d"), "normal_mae": {}, "ceiling": {}}
    for k in sorted(set(iterations) | set(ceiling)):
        asset = replace(fit, mesh=replace(fit.mesh, normals=shading_normals(fit.mesh.vertices, fit.mesh.faces, k)))
        row["normal_mae"][str(k)] = round(normal_mae_on(asset, splits.test, backend), 3)
        if k in ceiling:
            ev = evaluate(oracle_asset(asset, gt, 512)[0], splits.test, backend).to_json()
            row["ceiling"][str(k)] = {"albedo_psnr": round(ev["albedo_psnr"], 2),
                                      "relight_psnr_mean": round(ev["relight_psnr_mean"], 2),
                                      "relight_min": round(min(ev["relight_psnr"].values()), 2)}
        print(obj, k, row["normal_mae"][str(k)], row["ceiling"].get(str(k), ""), flush=True)
    append_row(OUT.with_suffix(".jsonl"), row)
    return row


def markdown(rows: list[dict]) -> str:
    ks = sorted({int(k) for r in rows for k in r["normal_mae"]})
    L = ["# Shading normals from a smoothed copy of the reconstructed mesh", "",
         "Reproduce: `.venv/bin/python bench/bench_normal_smoothing.py spot knot blob vase bottle --ceiling 0 5` "
         "(bench_suite's fits, 8 test views at 256²; positions unchanged, shading normals from a copy smoothed "
         "by k Taubin iterations, `relight.geometry.remesh.shading_normals`). *Ceiling*: the mesh with GT "
         "materials and light transferred at 512², relit at 256 spp (albedo / relight mean / min over envmaps).", "",
         "| object | date | " + " | ".join(f"normal MAE, k = {k}" for k in ks) + " | ceiling k = 0 | ceiling k = 5 |",
         "|---|---|" + "---|" * (len(ks) + 2)]
    for r in rows:
        nm = [f"{r['normal_mae'][str(k)]:.2f}°" if str(k) in r["normal_mae"] else "—" for k in ks]
        ce = [(lambda c: f"{c['albedo_psnr']:.2f} / {c['relight_psnr_mean']:.2f} / {c['relight_min']:.2f}" if c else "—")(
            r["ceiling"].get(k)) for k in ("0", "5")]
        L.append(f"| {r['object']} | {r['date']} | " + " | ".join(nm + ce) + " |")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("objects", nargs="*")
    ap.add_argument("--iterations", type=int, nargs="+", default=[0, 2, 5, 10, 20])
    ap.add_argument("--ceiling", type=int, nargs="*", default=[])
    ap.add_argument("--suite", type=Path, default=SUITE, help="folder holding OBJECT (a capture with gt/) and "
                    "OBJECT_fit (its `relight fit` output), for objects outside the suite")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    for obj in [] if a.markdown else a.objects:
        print(json.dumps(run(obj, a.iterations, a.ceiling, a.suite)))
    rewrite_markdown(OUT, markdown)


if __name__ == "__main__":
    main()
