"""A table-plane consensus for automatic masks (issue 20, session 29; measured, not kept).

The grey hooves of spot's low views are missed by `relight poses --masks auto` (results/photos.md):
the background prediction takes, per pixel, the *smallest* difference to 8 neighbours warped by
the homography at infinity and by the table plane's, and a hoof near the table is mapped onto
itself by a near neighbour's table warp. This bench tries the *median* instead, over every view
that sees the table point behind the pixel unoccluded (occluders: each view's first-round mask,
dilated by 3 px), kept with the minimum over the neighbours' warps at infinity; the first
round is then cut again with that difference and the second round runs as in
`relight.capture.masks.refine_with_hull`. It prints the IoU with the true coverage (median, worst,
share of views >= 0.95) of the first and final masks, with and without it.

Usage: .venv/bin/python bench/bench_table_consensus.py out/bench/photos_v2/spot [median | PERCENTILE ...]
(SfM runs once into out/bench/table_consensus/SCENE and is cached there as sfm.npz + sfm.json.)
"""
import json
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
from bench_photos import truth_mask_in
from PIL import Image

from relight.capture import background as bg
from relight.capture import masks as mk
from relight.capture.frame import look_at_point
from relight.capture.hulls import iou
from relight.capture.mask_config import MaskConfig
from relight.capture.photos import read_photo
from relight.capture.sfm import SfmConfig, run_sfm
from relight.data.camera import Camera
from relight.data.images import srgb_to_linear
from relight.runtime.paths import read_json

ROOT = Path(__file__).resolve().parent.parent

folder = Path(sys.argv[1])
work = ROOT / "out/bench/table_consensus" / folder.name
work.mkdir(parents=True, exist_ok=True)
cache = work / "sfm.npz"
if cache.exists():
    z, meta = np.load(cache, allow_pickle=False), json.loads(cache.with_suffix(".json").read_text())
    names, image_dir, points = meta["names"], meta["image_dir"], z["points"]
    cameras = [Camera(*k, c2w) for k, c2w in zip(meta["intrinsics"], z["c2w"], strict=True)]
else:
    photos = folder / "photos"
    r = run_sfm(photos, sorted(p.name for p in photos.glob("*.jpg")), work / "sfm", SfmConfig(),
                log=lambda s: None)
    names, cameras, points, image_dir = r.names, r.cameras, r.points, str(r.image_dir)
    np.savez(cache, points=points, c2w=np.stack([c.c2w for c in cameras]))
    cache.with_suffix(".json").write_text(json.dumps({"names": names, "image_dir": image_dir, "intrinsics": [
        [c.width, c.height, c.fx, c.fy, c.cx, c.cy] for c in cameras]}))

lens = read_json(folder / "truth/photos.json")["lens"]
images = [read_photo(Path(image_dir) / n) for n in names]
sizes = [im.shape[:2] for im in images]
truths = [truth_mask_in(c, np.asarray(Image.open(folder / f"truth/photo_masks/{Path(n).stem}.png")), lens)
          for n, c in zip(names, cameras, strict=True)]
cfg = MaskConfig()
small = [mk.working_size(*s, cfg.max_side) for s in sizes]
imgs = [mk.shrink(im, s) for im, s in zip(images, small, strict=True)]
cams = [c.scaled(s[1], s[0]) for c, s in zip(cameras, small, strict=True)]


def score(tag, masks):
    full = [mk.grow(m, s) for m, s in zip(masks, sizes, strict=True)]
    ious = np.array([iou(m, g) for m, g in zip(full, truths, strict=True)])
    print(f"{tag}: median {np.median(ious):.4f} min {ious.min():.4f} share>=0.95 {np.mean(ious >= 0.95):.3f}",
          flush=True)
    return ious


def table_consensus(images, cams, plane, occluders, centre, radius, threads, stat="median", grow_px=3):
    """Per view, the median over the views that see the table point behind each pixel unoccluded
    of the exposure-matched difference; NaN where the ray misses the table within radius."""
    floats = [im.astype(np.float32) / 255 for im in images]
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow_px + 1, 2 * grow_px + 1))
    occ = [cv2.dilate(o.astype(np.uint8), ker) for o in occluders]
    n, c = plane

    def one(i, ci):
        img = floats[i]
        img_lin = srgb_to_linear(img)
        o, d = ci.pixel_rays()
        nd = d @ n
        t = (c - o @ n) / np.where(np.abs(nd) > 1e-9, nd, np.nan)
        x = o + t[..., None] * d
        near = (t > 0) & (np.linalg.norm(x - centre, axis=-1) < radius)
        diffs = []
        for j, cj in enumerate(cams):
            if j == i:
                continue
            h = bg._homographies(ci, cj, plane)[1]
            w = cv2.warpPerspective(floats[j], h, (ci.width, ci.height),
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=(np.nan,) * 3)
            ow = cv2.warpPerspective(occ[j], h, (ci.width, ci.height), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                                     borderValue=1)
            valid = np.isfinite(w).all(-1) & near & (ow == 0)
            if valid.sum() < 100:
                continue
            w_lin = srgb_to_linear(np.nan_to_num(w))
            g = bg._gains(img_lin[valid][None], w_lin[valid][None], np.ones((1, int(valid.sum())), bool), True)
            dd = bg._channel_max(np.abs(img - bg._rescale(w_lin, g, True)))
            dd[~valid] = np.nan
            diffs.append(dd)
        st = np.stack(diffs)
        cnt = np.isfinite(st).sum(0)
        with warnings.catch_warnings():  # all-NaN pixels (no view sees their table point) stay NaN
            warnings.simplefilter("ignore")
            out = np.nanmedian(st, axis=0) if stat == "median" else np.nanpercentile(st, float(stat), axis=0)
        out[cnt < 3] = np.nan
        return out.astype(np.float32)

    return bg.per_view(one, zip(range(len(cams)), cams, strict=True), threads)


c2ws = np.stack([c.c2w for c in cams])
centre = look_at_point(c2ws)
dist = float(np.median(np.linalg.norm(c2ws[:, :3, 3] - centre, axis=1)))
half = 1.1 * dist * max(np.tan(max(c.fov_x, c.fov_y) / 2) for c in cams)
seeds = points[np.abs(points - centre).max(1) < half]
plane = bg.dominant_plane(seeds, 0.01 * dist)
nrm, cc = plane
if np.median(c2ws[:, :3, 3] @ nrm) < cc:
    nrm, cc = -nrm, -cc
plane = (nrm, cc)
seeds = seeds[seeds @ nrm - cc > 0.02 * dist]

t0 = time.time()
diff = bg.warp_difference(imgs, cams, cfg.neighbours, plane, cfg.threads)
print("warp diff", time.time() - t0, flush=True)
first = bg.per_view(lambda im, d, c: mk.initial_mask(im, d, c.project(seeds)[0] if len(seeds) else None, cfg),
                    zip(imgs, diff, cams, strict=True), cfg.threads)
score("first (base)", first)
final, _ = mk.refine_with_hull(imgs, [m.astype(bool) for m in first], cams, centre, half, cfg, diff)
score("final (base)", final)

t0 = time.time()
dinf = bg.warp_difference(imgs, cams, cfg.neighbours, None, cfg.threads)  # the warps at infinity only
print("inf diff", time.time() - t0, flush=True)
for stat in sys.argv[2:] or ["median"]:
    t0 = time.time()
    tdiff = table_consensus(imgs, cams, plane, first, centre, half, cfg.threads, stat=stat)
    print("table consensus", stat, time.time() - t0, flush=True)
    diff1 = [np.fmin(a, b) for a, b in zip(dinf, tdiff, strict=True)]
    first1 = bg.per_view(lambda im, d, c: mk.initial_mask(im, d, c.project(seeds)[0] if len(seeds) else None, cfg),
                         zip(imgs, diff1, cams, strict=True), cfg.threads)
    score(f"first (table {stat})", first1)
    final1, _ = mk.refine_with_hull(imgs, [m.astype(bool) for m in first1], cams, centre, half, cfg, diff1)
    ious = score(f"final (table {stat})", final1)
    np.save(work / f"{stat}_ious.npy", ious)
    np.savez_compressed(work / f"{stat}.npz", first=np.stack(first1), final=np.stack(final1), tdiff=np.stack(tdiff))
