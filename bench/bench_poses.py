"""`relight poses` on the real turntable capture ../shared/data/datasets/ethiopian_head_real (66
photos, 1000², masks, LLFF poses): photos registered, time, and the SfM poses against the
dataset's own poses after similarity alignment (rotation error in degrees, camera-centre error
as a fraction of the camera distance).

Usage: .venv/bin/python bench/bench_poses.py [--max-image-size 1000] [--matcher exhaustive] [--out results/poses]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from relight.capture.frame import rotation_errors_deg
from relight.capture.llff import read_llff
from relight.capture.sfm import SfmConfig
from relight.commands import poses as command
from relight.data.capture_io import load_capture

ROOT = Path(__file__).resolve().parent.parent
HEAD = ROOT.parent / "shared/data/datasets/ethiopian_head_real"


def link_head(work: Path, masks: bool) -> tuple[Path, Path | None]:
    """A fresh ``work`` folder with links to the head's photos (``photos/``) and, with ``masks``,
    to its masks (``masks/<stem>.png``): a plain photo folder, as a user would have one."""
    shutil.rmtree(work, ignore_errors=True)
    photos, mask_dir = work / "photos", (work / "masks" if masks else None)
    photos.mkdir(parents=True)
    if mask_dir is not None:
        mask_dir.mkdir()
    for p in sorted((HEAD / "images").iterdir()):
        (photos / p.name).symlink_to(p)
        if mask_dir is not None:
            (mask_dir / f"{p.stem}.png").symlink_to(HEAD / "masks" / f"{p.stem}.png")
    return photos, mask_dir


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max-image-size", type=int, default=1000)
    ap.add_argument("--matcher", default="exhaustive")
    ap.add_argument("--out", default="results/poses")
    a = ap.parse_args()
    if not HEAD.is_dir():
        print(f"skipped: {HEAD} not found")
        return 0
    work = ROOT / "out/bench/poses"
    photos, masks = link_head(work, masks=True)
    t = time.perf_counter()
    res = command.run(photos, work / "sfm", masks=masks,
                      sfm=SfmConfig(matcher=a.matcher, max_image_size=a.max_image_size))
    sfm_s = time.perf_counter() - t
    t = time.perf_counter()
    command.run(HEAD, work / "llff")
    llff_s = time.perf_counter() - t
    imgs, truth = read_llff(HEAD)
    by_name = dict(zip([p.name for p in imgs], truth, strict=True))
    cap = load_capture(work / "sfm", load_gt=False)
    names = [f"{n}.jpg" for n in cap.names]
    rot, centre = rotation_errors_deg(cap.cameras, [by_name[n] for n in names])
    row = {"photos": len(imgs), "registered": len(res.names), "unregistered": res.unregistered,
           "reprojection_px": round(res.reprojection_px, 3), "seconds": round(sfm_s, 1),
           "llff_import_seconds": round(llff_s, 1), "max_image_size": a.max_image_size, "matcher": a.matcher,
           "rotation_error_deg": {"median": float(np.median(rot)), "max": float(rot.max())},
           "centre_error_frac": {"median": float(np.median(centre)), "max": float(centre.max())},
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / f"{out.name}.json").write_text(json.dumps(row, indent=1))
    md = ["# `relight poses` on a real capture", "",
          "ethiopian_head_real (66 real turntable photos, 1000², CC BY-NC-SA; masks keep the still room "
          "out of SfM), pycolmap 4.2.1 on 2 CPU cores. Poses compared with the dataset's LLFF poses "
          "after a similarity alignment (Umeyama on camera centres).", "",
          "| what | value |", "|---|---|",
          f"| photos registered | {row['registered']} / {row['photos']} |",
          f"| rotation error, median / max | {row['rotation_error_deg']['median']:.3f}° / {row['rotation_error_deg']['max']:.3f}° |",
          f"| camera-centre error, median / max (fraction of camera distance) | {row['centre_error_frac']['median']:.4f} / {row['centre_error_frac']['max']:.4f} |",
          f"| mean reprojection error | {row['reprojection_px']} px |",
          f"| `relight poses` wall time (features at {a.max_image_size} px, {a.matcher} matching) | {row['seconds']} s |",
          f"| LLFF import (`relight poses` on the dataset folder) | {row['llff_import_seconds']} s |",
          f"| peak RSS of the process | {row['peak_rss_mib']} MiB |", "",
          f"Reproduce: `.venv/bin/python bench/bench_poses.py --max-image-size {a.max_image_size}`."]
    (out.parent / f"{out.name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
