"""Automatic-mask options on a photo-like synthetic capture (`relight synth SCENE --photos`):
for each variant of :class:`relight.capture.mask_config.MaskConfig` given as ``key=value`` lists, the
final masks' IoU with the true coverage (median, worst, share of views >= 0.95) and their
outward bias: (wrongly kept - missed) pixels per pixel of the true outline, in pixels of the
undistorted photo (+: the masks are too big, the way a fitted mesh then grows). SfM runs once
(default options, in out/bench/mask_variants/SCENE) and its poses serve every variant; the masks are made as
`relight poses --masks auto` makes them (:func:`relight.capture.masks.auto_masks` at
``max_side``). This is how ``MaskConfig.seed_votes`` was chosen (results/photos.md, session 12).

Usage: .venv/bin/python bench/bench_mask_variants.py out/bench/photos_v2/blob \
    --variant strict seed_votes=0.9 --variant every seed_votes=1.0 [--out results/mask_variants.jsonl]
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
from bench_photos import truth_mask_in
from bench_sfm_variants import config, emit, variant_args
from PIL import Image
from scipy import ndimage

from relight.capture.hulls import iou
from relight.capture.mask_config import MaskConfig
from relight.capture.masks import auto_masks, grow, shrink, working_size
from relight.capture.photos import read_photo
from relight.capture.sfm import SfmConfig, run_sfm
from relight.runtime.paths import read_json

ROOT = Path(__file__).resolve().parent.parent


def outward_bias(mask: np.ndarray, truth: np.ndarray) -> float:
    """(wrongly kept - missed) pixels / the true outline's length in pixels (bool masks)."""
    outline = int((truth ^ ndimage.binary_erosion(truth)).sum())
    return (int((mask & ~truth).sum()) - int((~mask & truth).sum())) / max(outline, 1)


def main() -> int:
    a = variant_args(__doc__, "results/mask_variants.jsonl", dump=True)
    work = ROOT / "out/bench/mask_variants" / a.folder.name
    shutil.rmtree(work, ignore_errors=True)
    photos = a.folder / "photos"
    r = run_sfm(photos, sorted(p.name for p in photos.glob("*.jpg")), work, SfmConfig(), log=lambda s: None)
    lens = read_json(a.folder / "truth/photos.json")["lens"]
    images = [read_photo(r.image_dir / n) for n in r.names]
    sizes = [im.shape[:2] for im in images]
    truths = [truth_mask_in(c, np.asarray(Image.open(a.folder / f"truth/photo_masks/{Path(n).stem}.png")), lens)
              for n, c in zip(r.names, r.cameras, strict=True)]
    for name, *pairs in a.variant:
        cfg = config(pairs, MaskConfig)
        small = [working_size(*s, cfg.max_side) for s in sizes]
        t = time.perf_counter()
        masks, _ = auto_masks([shrink(im, s) for im, s in zip(images, small, strict=True)],
                              [c.scaled(s[1], s[0]) for c, s in zip(r.cameras, small, strict=True)], r.points, cfg,
                              static=False)
        seconds = time.perf_counter() - t
        full = [grow(m, s) for m, s in zip(masks, sizes, strict=True)]
        ious = np.array([iou(m, g) for m, g in zip(full, truths, strict=True)])
        bias = np.array([outward_bias(m, g) for m, g in zip(full, truths, strict=True)])
        worst = np.argsort(ious)[:5]
        row = {"scene": a.folder.name, "variant": name, "options": pairs, "views": len(ious),
               "seconds": round(seconds, 1),
               "mask_iou": {"median": float(np.median(ious)), "min": float(ious.min()),
                            "share_at_least_0.95": float(np.mean(ious >= 0.95))},
               "outward_bias_px": {"mean": float(bias.mean()), "median": float(np.median(bias))},
               "worst_views": {Path(r.names[i]).stem: round(float(ious[i]), 4) for i in worst}}
        emit(row, a.out)
        if a.dump:  # the worst views: photo, red = wrongly kept, blue = missed
            d = a.dump / a.folder.name / name
            d.mkdir(parents=True, exist_ok=True)
            for i in worst:
                err = images[i].copy()
                err[full[i] & ~truths[i]] = (255, 0, 0)
                err[~full[i] & truths[i]] = (0, 0, 255)
                Image.fromarray(err).save(d / f"{Path(r.names[i]).stem}_{ious[i]:.3f}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
