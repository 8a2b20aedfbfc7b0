"""Fitted roughness per GT roughness band (issue 18, the glossy shortfall): the roughness AOV of
ASSET against the GT roughness AOV of CAPTURE's test views, on pixels both hit.

Usage: .venv/bin/python bench/bench_roughness_bands.py out/bench/levers/vase_defaults_s15 out/bench/suite/vase
(the vase's glaze bands are 0.08 and 0.40; results quoted in results/README.md, session 15).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

BANDS = ((0.0, 0.2), (0.2, 0.45), (0.45, 1.01))


def bands(asset_dir: Path, capture: Path) -> list[dict]:
    from relight.data.asset import load_asset
    from relight.data.capture_io import load_capture
    from relight.render.mitsuba import build_scene, surface_aovs
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    asset, cap = load_asset(asset_dir), load_capture(capture, "test")
    scene = build_scene(backend, asset, 2)
    fit, gt = [], []
    for i, cam in enumerate(cap.cameras):
        a = surface_aovs(backend, scene, asset, cam)
        hit = (a["hit"] > 0) & (np.linalg.norm(cap.gt.normals[i], axis=-1) > 0.5)
        fit.append(a["roughness"][hit].ravel())
        gt.append(cap.gt.roughness[i][hit].ravel())
    fit, gt = np.concatenate(fit), np.concatenate(gt)
    rows = []
    for lo, hi in BANDS:
        m = (gt >= lo) & (gt < hi)
        if m.any():
            rows.append({"band": [lo, hi], "pixels": round(float(m.mean()), 3), "gt_mean": round(float(gt[m].mean()), 3),
                         "fitted_mean": round(float(fit[m].mean()), 3),
                         "fitted_p10_p90": [round(float(np.percentile(fit[m], q)), 3) for q in (10, 90)]})
    rows.append({"mae": round(float(np.abs(fit - gt).mean()), 4)})
    return rows


if __name__ == "__main__":
    for r in bands(Path(sys.argv[1]), Path(sys.argv[2])):
        print(r)
