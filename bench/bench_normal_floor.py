"""How much of a fit's normal MAE is the reconstruction's, and how much the metric's own floor?

On one capture's test views (pixel-centre normals, as ``relight eval``), the normal MAE of:

* the fit (``SUITE/<object>_fit``), split into pixels where the GT normal faces away from the
  camera (n · c < -0.2 |c|, c the camera centre: the GT mesh has a hole there and the view sees
  its inside, which no closed reconstruction can match) and the rest;
* the GT mesh itself with shading normals from ``k`` Taubin iterations of a copy (detail finer
  than the images resolve), and decimated (quadric, gpytoolbox) to a share of its faces — what a
  perfect surface with the fit's face budget would score.

Usage: .venv/bin/python bench/bench_normal_floor.py OBJECT [--suite out/bench/suite]
Rows go to results/normal_floor.jsonl; results/normal_floor.md is rewritten from it.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rows import append_row, rewrite_markdown

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "out/bench/suite"
OUT = ROOT / "results/normal_floor"


def run(obj: str, suite: Path) -> dict:
    import gpytoolbox as gpy

    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.data.mesh import Mesh, smooth_normals
    from relight.evaluation.evaluate import covered_pixels
    from relight.geometry.remesh import shading_normals
    from relight.render.mitsuba import build_scene, surface_aovs
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    test = load_splits(suite / obj).test
    gt = load_asset(suite / obj / "gt")

    def errors(asset) -> tuple[list[np.ndarray], list[np.ndarray]]:
        scene = build_scene(backend, asset, 2)
        aov = [surface_aovs(backend, scene, asset, c) for c in test.cameras]
        hit = covered_pixels(aov, test.masks)
        errs, away = [], []
        for i, a in enumerate(aov):
            g, h = test.gt.normals[i], hit[i] > 0
            d = np.degrees(np.arccos(np.clip((a["normals"] * g).sum(-1), -1, 1)))
            c = test.cameras[i].c2w[:3, 3]
            errs.append(d[h])
            away.append(((g @ c) < -0.2 * np.linalg.norm(c))[h])
        return errs, away

    def mae(mesh) -> float:
        return round(float(np.concatenate(errors(replace(gt, mesh=mesh))[0]).mean()), 2)

    fit = load_asset(suite / f"{obj}_fit")
    e, away = errors(fit)
    e, away = np.concatenate(e), np.concatenate(away)
    row = {"object": obj, "date": time.strftime("%Y-%m-%d"), "fit_faces": len(fit.mesh.faces),
           "fit": round(float(e.mean()), 2), "gt_hole_pixels": round(float(away.mean()), 4),
           "fit_without_gt_holes": round(float(e[~away].mean()), 2),
           "gt_hole_share_of_mae": round(float(e[away].sum() / e.sum()), 3), "gt_smoothed": {}, "gt_decimated": {}}
    v, f = gt.mesh.vertices, gt.mesh.faces
    for k in (2, 5, 10):
        row["gt_smoothed"][str(k)] = mae(replace(gt.mesh, normals=shading_normals(v, f, k)))
    vw, inv = np.unique(np.round(v, 7), axis=0, return_inverse=True)  # weld the UV seams
    fw = inv.reshape(-1)[f]
    for ratio in (0.4, 0.2, 0.1):
        V, F, *_ = gpy.decimate(vw.astype(np.float64), fw.astype(np.int32), face_ratio=ratio)
        V, F = V.astype(np.float32), F.astype(np.int32)
        row["gt_decimated"][str(len(F))] = mae(Mesh(V, F, np.zeros((len(V), 2), np.float32), smooth_normals(V, F)))
    return row


def markdown(rows: list[dict]) -> str:
    L = ["# Normal MAE: the fit's, and the metric's own floor", "",
         "Reproduce: `.venv/bin/python bench/bench_normal_floor.py OBJECT [--suite DIR]` (test views, "
         "pixel-centre normals). *GT holes*: pixels whose GT normal faces away from the camera (the view "
         "sees the inside of a hole in the GT mesh). *GT smoothed k*: the GT mesh with shading normals of a "
         "k-iteration Taubin copy. *GT decimated to N*: quadric decimation of the GT mesh to N faces.", "",
         "| object | fit (faces) | GT-hole pixels (their share of the MAE) | fit without them | "
         "GT smoothed k = 2 / 5 / 10 | GT decimated | date |", "|---" * 7 + "|"]
    for r in rows:
        dec = ", ".join(f"{n}: {x:.2f}°" for n, x in r["gt_decimated"].items())
        sm = " / ".join(f"{x:.2f}°" for x in r["gt_smoothed"].values())
        L.append(f"| {r['object']} | {r['fit']:.2f}° ({r['fit_faces']}) | {100 * r['gt_hole_pixels']:.1f} % "
                 f"({100 * r['gt_hole_share_of_mae']:.0f} %) | {r['fit_without_gt_holes']:.2f}° | {sm} | {dec} | "
                 f"{r['date']} |")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("object", nargs="?")
    ap.add_argument("--suite", type=Path, default=SUITE)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if not a.markdown:
        row = run(a.object, a.suite)
        print(json.dumps(row))
        append_row(OUT.with_suffix(".jsonl"), row)
    rewrite_markdown(OUT, markdown)


if __name__ == "__main__":
    main()
