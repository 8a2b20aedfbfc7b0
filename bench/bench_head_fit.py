"""The real turntable capture (ethiopian_head_real, not in this repository) fitted twice in the
`rig` light frame — with the dataset's own poses and with poses from `relight poses` on the
photos and their masks — scored on the same held-out views (every 8th): novel-view PSNR / SSIM
and mask IoU from each fit's metrics.json, stage times from its log, and a picture per held-out
view: photo | ours (given poses) | ours (SfM poses) | the SfM asset relit under another HDRI.

The fits (each ≈ 1 h on 2 cores), then this script:

    relight poses ../shared/data/datasets/ethiopian_head_real -o out/bench/head/capture_rig --light-frame rig
    relight poses PHOTOS --masks MASKS -o out/bench/head/capture_sfm --light-frame rig --max-image-size 1000
      (PHOTOS, MASKS: links to the dataset's images/ and masks/, as bench/bench_poses.py makes them)
    relight fit out/bench/head/capture_X -o out/bench/head/fit_X --downscale 4 --holdout-every 8 \\
        --material-config metallic.toml   (metallic = true)
    .venv/bin/python bench/bench_head_fit.py
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from relight.data.asset import load_asset
from relight.data.capture_io import load_capture
from relight.data.images import linear_to_srgb, read_envmap
from relight.render.mitsuba import build_scene, render_views
from relight.runtime.backend import select_backend

ROOT = Path(__file__).resolve().parent.parent
RUNS = {"given poses (LLFF)": "rig", "relight poses (SfM)": "sfm"}


def stage_seconds(log: Path) -> dict:
    m = re.search(r"geometry (\d+) s, unwrap (\d+) s, material (\d+) s", log.read_text()) if log.is_file() else None
    return dict(zip(("geometry", "unwrap", "material"), map(int, m.groups()), strict=True)) if m else {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", type=Path, default=ROOT / "out/bench/head")
    ap.add_argument("--views", type=int, nargs="+", default=[1, 5], help="held-out views shown")
    ap.add_argument("--relight", type=Path, default=ROOT / "scenes/envmaps/city.exr")
    ap.add_argument("--spp", type=int, default=64)
    ap.add_argument("--out", default="results/head_fit_both")
    a = ap.parse_args()
    backend = select_backend("cpu")
    rows, cols = {}, []
    for label, tag in RUNS.items():
        fit, cap = a.work / f"fit_{tag}", a.work / f"capture_{tag}"
        if not (fit / "metrics.json").is_file():
            print(f"skipped {label}: {fit}/metrics.json not found")
            continue
        m = json.loads((fit / "metrics.json").read_text())
        rows[label] = {"metrics": m, "seconds": stage_seconds(a.work / f"fit_{tag}.log"),
                       "poses": json.loads((cap / "poses.json").read_text()).get("source")}
        test = load_capture(cap, "test", downscale=4, holdout_every=8)
        asset = load_asset(fit)
        cams = [test.cameras[i] for i in a.views]
        deg = test.light_deg(asset.envmap_rotation_deg)
        deg = None if deg is None else [deg[i] for i in a.views]
        img = render_views(backend, build_scene(backend, asset), cams, a.spp, seed=3, light_deg=deg)
        if not cols:
            cols.append([linear_to_srgb(test.images[i]) * test.masks[i][..., None] for i in a.views])
        cols.append([linear_to_srgb(x[..., :3]) for x in img])
        if tag == "sfm":
            relit = asset.with_envmap(read_envmap(a.relight), 0.0)
            img = render_views(backend, build_scene(backend, relit), cams, a.spp, seed=3)
            cols.append([linear_to_srgb(x[..., :3]) for x in img])
    if not rows:
        return 0
    out = ROOT / a.out
    (out.parent / f"{out.name}.json").write_text(json.dumps(rows, indent=1))
    h, w = cols[0][0].shape[:2]  # undistorted SfM views may be a few pixels larger than the LLFF ones
    cols = [[cv2.resize(np.ascontiguousarray(t, np.float32), (w, h), interpolation=cv2.INTER_AREA) for t in c]
            for c in cols]
    grid = np.concatenate([np.concatenate(c, 0) for c in cols], 1)
    Image.fromarray((np.clip(grid, 0, 1) * 255 + 0.5).astype(np.uint8)).save(out.parent / f"{out.name}.png")
    md = ["# The real turntable head, fitted with given and with SfM poses (light frame `rig`)", "",
          "`relight fit --downscale 4 --holdout-every 8` (metallic on, fast preset, 2 CPU cores) of "
          "ethiopian_head_real (66 photos, CC BY-NC-SA, not in this repository); every 8th view held out, "
          "each fit scored on its own capture's held-out views (same photos; the SfM fit's held-out cameras "
          "are its own SfM poses).", "",
          "| poses | held-out PSNR | SSIM | mask IoU | geometry | material |", "|---|---|---|---|---|---|"]
    for label, r in rows.items():
        m, s = r["metrics"], r["seconds"]
        md.append(f"| {label} | {m['novel_view_psnr']:.2f} dB | {m['novel_view_ssim']:.3f} | {m['mask_iou']:.3f} "
                  f"| {s.get('geometry', '?')} s | {s.get('material', '?')} s |")
    md += ["", f"`{out.name}.png`: held-out views {a.views} — photo (masked) | " + " | ".join(
        f"ours, {k}" for k in rows) + f" | the SfM asset relit under `{a.relight.name}`.", "",
           "Reproduce: see the docstring of `bench/bench_head_fit.py`."]
    (out.parent / f"{out.name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
