"""Automatic masks on a real turntable capture: `relight poses --masks auto --light-frame rig` on
the 66 photos of ../shared/data/datasets/ethiopian_head_real (no masks given), scored against
the dataset's own masks (resampled into the capture's undistorted cameras through the lens SfM
estimated, as relight resamples given masks). Also the poses against the dataset's.

Usage: .venv/bin/python bench/bench_head_masks.py [--max-image-size 1000] [--out results/head_masks]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from relight.capture.frame import rotation_errors_deg
from relight.capture.hulls import iou
from relight.capture.llff import read_llff
from relight.capture.poses import undistort_mask
from relight.capture.sfm import SfmConfig
from relight.commands import poses as command
from relight.data.capture_io import load_capture
from relight.runtime.paths import read_json

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_poses import HEAD, link_head  # noqa: E402  (same folder)


def main() -> int:
    import pycolmap

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max-image-size", type=int, default=1000)
    ap.add_argument("--out", default="results/head_masks")
    a = ap.parse_args()
    if not HEAD.is_dir():
        print(f"skipped: {HEAD} not found")
        return 0
    work = ROOT / "out/bench/head_masks"
    photos, _ = link_head(work, masks=False)
    t = time.perf_counter()
    res = command.run(photos, work / "cap", masks="auto", light_frame="rig",
                      sfm=SfmConfig(max_image_size=a.max_image_size))
    seconds = time.perf_counter() - t
    cap = load_capture(work / "cap", load_gt=False)
    info = read_json(work / "cap/poses.json")
    lens = info["lens"]
    src = pycolmap.Camera(model=lens["model"], width=lens["width"], height=lens["height"], params=lens["params"])
    ious = []
    for n, cam in zip(cap.names, cap.cameras, strict=True):
        auto = np.asarray(Image.open(work / f"cap/masks/{n}.png")) >= 128
        given = np.asarray(Image.open(HEAD / f"masks/{n}.png").convert("L"))
        ious.append(iou(auto, undistort_mask(given, src, cam) >= 128))
    imgs, truth = read_llff(HEAD)
    by_name = dict(zip([p.stem for p in imgs], truth, strict=True))
    rot, centre = rotation_errors_deg(cap.cameras, [by_name[n] for n in cap.names])
    row = {"photos": len(imgs), "registered": len(res.names), "seconds": round(seconds, 1),
           "mask_iou": {"median": float(np.median(ious)), "mean": float(np.mean(ious)), "min": float(np.min(ious)),
                        "share_at_least_0.95": float(np.mean(np.array(ious) >= 0.95))},
           "flagged": info["masks"]["flagged"], "per_view_iou": [round(x, 4) for x in ious],
           "rotation_error_deg": {"median": float(np.median(rot)), "max": float(rot.max())},
           "centre_error_frac": {"median": float(np.median(centre)), "max": float(centre.max())},
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    out = ROOT / a.out
    (out.parent / f"{out.name}.json").write_text(json.dumps(row, indent=1))
    md = ["# Automatic masks on a real turntable capture", "",
          "ethiopian_head_real (66 photos, 1000², CC BY-NC-SA): `relight poses --masks auto --light-frame rig` "
          "without the dataset's masks; its masks against the dataset's (resampled through the estimated lens). "
          "2 CPU cores.", "", "| what | value |", "|---|---|",
          f"| photos registered | {row['registered']} / {row['photos']} |",
          f"| mask IoU vs the dataset's, median / mean / min | {row['mask_iou']['median']:.3f} / "
          f"{row['mask_iou']['mean']:.3f} / {row['mask_iou']['min']:.3f} |",
          f"| views with IoU ≥ 0.95 | {100 * row['mask_iou']['share_at_least_0.95']:.0f} % |",
          f"| views flagged by the hull check | {len(row['flagged'])} |",
          f"| rotation error vs the dataset's poses, median / max | {row['rotation_error_deg']['median']:.3f}° / "
          f"{row['rotation_error_deg']['max']:.3f}° |",
          f"| wall time (SfM + masks) | {row['seconds']} s |", f"| peak RSS | {row['peak_rss_mib']} MiB |", "",
          f"Reproduce: `.venv/bin/python bench/bench_head_masks.py --max-image-size {a.max_image_size}`."]
    (out.parent / f"{out.name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
