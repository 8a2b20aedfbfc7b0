"""Automatic object masks for photos without any, by classic offline methods (no model weights).

The background is predicted first (:mod:`relight.capture.background`: the median photo for a
turntable's still background — ``relight poses --light-frame rig`` —, neighbouring views warped
by the homographies at infinity and of the table plane for a moving camera).

Pixels far from the background are probable object, near ones background; SfM points near the
object centre and off the table are sure object, and inside their outline nothing is sure
background; OpenCV's **GrabCut** (colour models, graph cut) turns that into a mask with the
photo's own edges; enclosed holes are filled (so objects with through-holes keep them filled).
**Multi-view consistency**: visual hulls are carved from all masks (a point is kept when it
falls inside the masks of at least ``hull_votes`` — the strict hull — or half — the majority
hull — of the views that see it), projected back, and a second GrabCut round takes them as its
seeds (inside the eroded hull that every voting view's mask holds: object; inside the
majority hull: probable object; outside it, dilated: background), so a background blob that
one view got wrong is removed by the others, and an object part it missed is put back. Last,
each mask is cut to the silhouette of the strict hull of the second round's masks (what GrabCut
kept that the other views see as background goes) and its agreement with that silhouette (IoU)
is reported; views below ``flag_iou`` are flagged. Views
are processed in parallel (``threads``), with the same results as one by one.

Images are 8-bit sRGB (H, W, 3) uint8 in the undistorted pinhole cameras of the capture; masks
are uint8 {0, 255}, white = object.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from relight.capture.background import dominant_plane, per_view, static_difference, warp_difference
from relight.capture.hulls import carve_hulls, hull_silhouette, iou, recall
from relight.capture.mask_config import MaskConfig
from relight.data.camera import Camera
from relight.runtime.errors import RelightError


def _grabcut(img: np.ndarray, trimap: np.ndarray, iters: int) -> np.ndarray:
    """OpenCV GrabCut from a trimap of ``cv2.GC_*`` labels; (H, W) bool object mask."""
    import cv2

    gc = trimap.copy()
    fg = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    if not fg.any() or fg.all():
        return fg
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models by k-means with OpenCV's per-thread RNG: reseeded per call,
    # a view's mask does not depend on which views the thread cut before (order, threads)
    cv2.setRNGSeed(0)
    cv2.grabCut(np.ascontiguousarray(img[..., ::-1]), gc, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    return np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD))


def for_view(diff: np.ndarray, cfg: MaskConfig) -> MaskConfig:
    """``cfg`` with the thresholds of one view: ``low`` and ``high`` lowered to ``noise_low`` and
    ``noise_high`` times its background noise (the ``noise_quantile`` of its finite ``diff``)
    where those are smaller; never raised, so a view the object fills is cut as before."""
    finite = diff[np.isfinite(diff)]
    if not finite.size:
        return cfg
    noise = float(np.quantile(finite, cfg.noise_quantile))
    return replace(cfg, low=min(cfg.low, cfg.noise_low * noise), high=min(cfg.high, cfg.noise_high * noise))


def matches_background(diff: np.ndarray, cfg: MaskConfig) -> np.ndarray:
    """(H, W) bool: the pixels that match the predicted background (``diff`` below
    :attr:`MaskConfig.low`); NaN (no neighbour saw the pixel) is no evidence and does not."""
    return np.nan_to_num(diff, nan=np.inf) < cfg.low


def sure_background(diff: np.ndarray, cfg: MaskConfig) -> np.ndarray:
    """(H, W) bool: the pixels whose whole disc of radius :attr:`MaskConfig.sure_background`
    :func:`matches_background`."""
    import cv2

    quiet = matches_background(diff, cfg).astype(np.uint8)
    r = int(round(cfg.sure_background * max(diff.shape)))
    if r > 0:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        quiet = cv2.erode(quiet, disc, borderType=cv2.BORDER_REPLICATE)
    return quiet.astype(bool)


def initial_mask(img: np.ndarray, diff: np.ndarray, seeds: np.ndarray | None, cfg: MaskConfig) -> np.ndarray:
    """GrabCut mask (H, W) bool of one photo from its difference to the background (NaN =
    unknown) and optional sure-object pixel seeds (M, 2) ``(u, v)``; thresholds :func:`for_view`."""
    import cv2

    cfg = for_view(diff, cfg)
    tri = np.full(diff.shape, cv2.GC_PR_BGD, np.uint8)
    tri[diff > cfg.high] = cv2.GC_PR_FGD
    tri[sure_background(diff, cfg)] = cv2.GC_BGD
    if seeds is not None and len(seeds) >= 3:
        h, w = diff.shape
        uv = np.round(seeds).astype(int)
        uv = uv[(uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)]
        if len(uv) >= 3:  # inside the object points' outline nothing is sure background
            hull = np.zeros((h, w), np.uint8)
            cv2.fillConvexPoly(hull, cv2.convexHull(uv.astype(np.int32)), 1)
            inside = hull.astype(bool)
            tri[inside & (tri == cv2.GC_BGD)] = cv2.GC_PR_BGD
            tri[inside & (diff > cfg.low)] = cv2.GC_PR_FGD
            tri[uv[:, 1], uv[:, 0]] = cv2.GC_FGD
    return fill_holes(_largest_parts(_grabcut(img, tri, cfg.grabcut_iterations)))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with enclosed background regions filled (a first-round mask's dark patches that
    matched the background; true holes are carved back by the other views' hull)."""
    from scipy.ndimage import binary_fill_holes

    return binary_fill_holes(mask)


def _largest_parts(mask: np.ndarray, keep: float = 0.05) -> np.ndarray:
    """Drop connected parts smaller than ``keep`` of the largest (speckle on the background)."""
    import cv2

    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    good = np.flatnonzero(areas >= keep * areas.max()) + 1
    return np.isin(lab, good)


def carve_hull(masks: list[np.ndarray], cams: list[Camera], centre: np.ndarray, radius: float,
               cfg: MaskConfig) -> tuple[np.ndarray, float]:
    """``(points, voxel)``: the (P, 3) centres of the voxels of the visual hull of ``masks``
    within the cube of half-size ``radius`` around ``centre``, and their edge length."""
    hulls, voxel = carve_hulls(masks, cams, centre, radius, cfg.hull_grid, (cfg.hull_votes,))
    return hulls[0], voxel


def agreement(masks: list[np.ndarray], cams: list[Camera], centre: np.ndarray, radius: float,
              cfg: MaskConfig) -> list[float]:
    """Each mask's IoU with the silhouette of the strict visual hull of all ``masks`` (bool):
    how well a view agrees with the others. Measured on the spot photo set's final masks, this
    follows the masks' true IoU (correlation +0.87 over 64 views); the same measure taken on the
    first-round masks, as before, did not (-0.01: it flagged views the second round had fixed)."""
    sils = strict_silhouettes(masks, cams, centre, radius, cfg)
    return [iou(m, s) for m, s in zip(masks, sils, strict=True)]


def strict_silhouettes(masks: list[np.ndarray], cams: list[Camera], centre: np.ndarray, radius: float,
                       cfg: MaskConfig) -> list[np.ndarray]:
    """Per view, the (H, W) bool silhouette of the strict visual hull (``hull_votes``) of ``masks``."""
    (strict,), voxel = carve_hulls(masks, cams, centre, radius, cfg.hull_grid, (cfg.hull_votes,))
    return per_view(lambda c: hull_silhouette(strict, voxel, c), ((c,) for c in cams), cfg.threads)


def refine_with_hull(images: list[np.ndarray], masks: list[np.ndarray], cams: list[Camera], centre: np.ndarray,
                     radius: float, cfg: MaskConfig, diff: list[np.ndarray] | None = None
                     ) -> tuple[list[np.ndarray], list[float]]:
    """Second GrabCut round seeded by visual hulls of ``masks``: the hull that every voting
    view's mask holds (:attr:`MaskConfig.seed_votes`) is sure object where eroded, the majority
    hull (inside half of them) with the view's own mask is probable object, and outside the
    dilated majority hull is sure background; the strict hull (a voxel inside ``hull_votes`` of
    the masks that see it) bounds where background-like pixels may stay probable object. So the
    views correct each other both ways: a background blob one view got wrong is outside the
    others' majority, and an object part one view missed (a dark patch on the silhouette, a
    foot on a floor of its colour) is inside it (measured on the spot photo set: missed object pixels 171k -> 58k, wrongly kept 41k -> 112k,
    median IoU 0.941 -> 0.947, worst view 0.31 -> 0.86; results/photos.md). Given each view's
    ``diff`` to its predicted background, a pixel that matches the background (below
    :attr:`MaskConfig.low`) and lies outside the strict hull is only probable background even
    inside the majority hull: nothing but that loose hull calls it object. This keeps the
    object's shadow on the floor out (the majority hull holds it when most first masks do): on
    the spot photo set wrongly kept pixels 76k -> 37k, missed 68k -> 70k, median IoU 0.953 ->
    0.967, worst view 0.870 -> 0.903. Only the views whose first masks hold most of the
    majority hull vote on the strict hull (:attr:`MaskConfig.min_recall`). Last, each new mask
    keeps only what the strict hull of all new masks holds (:func:`consistency_cut`).
    Returns the new masks and their :func:`agreement`."""
    import cv2

    levels = (cfg.hull_votes, cfg.seed_votes)
    (strict, sure, major), voxel = carve_hulls(masks, cams, centre, radius, cfg.hull_grid, (*levels, 0.5))
    if len(strict) < cfg.min_consensus * len(major):
        raise RelightError(f"automatic masks failed: the views agree on almost no object ({len(strict)} voxels "
                           f"inside {cfg.hull_votes:.0%} of the masks, {len(major)} inside half): the camera poses "
                           "are likely wrong (a symmetric or repeating object)",
                           fix="pass masks (--masks DIR), or photograph the object on a mat with a printed "
                               "non-repeating pattern")

    mosts = per_view(lambda c: hull_silhouette(major, voxel, c), ((c,) for c in cams), cfg.threads)
    held = np.array([recall(m, s) for m, s in zip(masks, mosts, strict=True)])
    votes = held >= cfg.min_recall * np.median(held)
    if not votes.all():  # the views that missed much of the majority hull do not carve the strict one
        (strict, sure), _ = carve_hulls([m for m, v in zip(masks, votes, strict=True) if v],
                                        [c for c, v in zip(cams, votes, strict=True) if v], centre, radius,
                                        cfg.hull_grid, levels)

    def one(img: np.ndarray, m: np.ndarray, c: Camera, d: np.ndarray | None, most: np.ndarray) -> np.ndarray:
        sil = hull_silhouette(strict, voxel, c)
        px = max(2, int(round(voxel * c.fx / np.linalg.norm(c.center - centre))))
        ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
        inner = cv2.erode(hull_silhouette(sure, voxel, c).astype(np.uint8), ker).astype(bool)
        outer = cv2.dilate(most.astype(np.uint8), ker).astype(bool)
        tri = np.where(m | most, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        if d is not None:
            tri[matches_background(d, for_view(d, cfg)) & ~sil] = cv2.GC_PR_BGD
        tri[inner] = cv2.GC_FGD
        tri[~outer] = cv2.GC_BGD
        return _largest_parts(_grabcut(img, tri, cfg.grabcut_iterations))

    diffs = diff if diff is not None else [None] * len(images)
    final = per_view(one, zip(images, masks, cams, diffs, mosts, strict=True), cfg.threads)
    return consistency_cut(final, cams, centre, radius, cfg)


def consistency_cut(masks: list[np.ndarray], cams: list[Camera], centre: np.ndarray, radius: float,
                    cfg: MaskConfig) -> tuple[list[np.ndarray], list[float]]:
    """``(masks, agreement)``: each (H, W) bool mask cut to the :func:`strict_silhouettes` of all
    ``masks``, grown by a pixel, when :attr:`MaskConfig.consistency_cut` (a pixel that more than
    ``1 - hull_votes`` of the views seeing its ray call background goes), and each returned
    mask's IoU with the ungrown silhouette (:func:`agreement`, from the same carve)."""
    import cv2

    sils = strict_silhouettes(masks, cams, centre, radius, cfg)
    if cfg.consistency_cut:  # cut to the silhouette grown by a pixel: the voxel centres that are
        # carved away just outside a true outline leave a gap of up to a pixel (seen at 64², 48³)
        ring = np.ones((3, 3), np.uint8)
        masks = [m & cv2.dilate(s.astype(np.uint8), ring).astype(bool) for m, s in zip(masks, sils, strict=True)]
    return masks, [iou(m, s) for m, s in zip(masks, sils, strict=True)]


def auto_masks(images: list[np.ndarray], cams: list[Camera], points: np.ndarray, cfg: MaskConfig,
               static: bool, first: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], list[float]]:
    """Masks (uint8 {0, 255}) of posed photos and each view's agreement with the others (IoU with
    the visual hull). ``points``: SfM points (any frame the cameras share); ``static``: the
    background stays still in the image (a turntable); ``first``: first-round masks
    already made (a turntable's, made before SfM) instead of predicting the background."""
    from relight.capture.frame import look_at_point

    c2ws = np.stack([c.c2w for c in cams])
    centre = look_at_point(c2ws)
    dist = float(np.median(np.linalg.norm(c2ws[:, :3, 3] - centre, axis=1)))
    half = 1.1 * dist * max(np.tan(max(c.fov_x, c.fov_y) / 2) for c in cams)
    seeds = points[np.abs(points - centre).max(1) < half] if len(points) else points
    plane = None if static else dominant_plane(seeds, 0.01 * dist)
    if plane is not None:  # the table: its points are no object seeds, nor is anything below it
        n, c = plane
        if np.median(c2ws[:, :3, 3] @ n) < c:
            n, c = -n, -c
        seeds = seeds[seeds @ n - c > 0.02 * dist]
    diff = None
    if first is None:
        diff = (static_difference(images, cfg.low) if static
                else warp_difference(images, cams, cfg.neighbours, plane, cfg.threads))
        first = per_view(lambda im, d, c: initial_mask(im, d, c.project(seeds)[0] if len(seeds) else None, cfg),
                         zip(images, diff, cams, strict=True), cfg.threads)
    masks, agree = refine_with_hull(images, [m.astype(bool) for m in first], cams, centre, half, cfg, diff)
    return [np.where(m, 255, 0).astype(np.uint8) for m in masks], agree


def check_masks(names: list[str], masks: list[np.ndarray], agree: list[float], cfg: MaskConfig) -> list[str]:
    """The views whose mask disagrees with the others (agreement below ``flag_iou``); raises
    :class:`RelightError` when the masks failed as a whole — empty in most views, or most views
    disagreeing — rather than writing a capture of empty masks (seen on a textureless object
    filling the frame above a planar floor: SfM posed every photo from the floor's texture alone,
    up to 22° wrong, and the hull carved everything away)."""
    flagged = [n for n, a in zip(names, agree, strict=True) if a < cfg.flag_iou]
    empty = [n for n, m in zip(names, masks, strict=True) if np.count_nonzero(m) < 1e-3 * m.size]
    bad, what = max((empty, "are empty"), (flagged, "disagree with the others"), key=lambda b: len(b[0]))
    if len(bad) > len(names) / 2:
        raise RelightError(f"automatic masks failed: {len(bad)} of {len(names)} views' masks {what} (the object "
                           "is too plain for SfM and the background model, or the poses are wrong)",
                           fix="pass masks (--masks DIR), or photograph the object on a mat with a printed "
                               "pattern and give it some texture of its own")
    return flagged


def working_size(h: int, w: int, max_side: int) -> tuple[int, int]:
    """(height, width) of a photo downscaled so its longer side is at most ``max_side``."""
    s = min(1.0, max_side / max(h, w))
    return max(1, round(h * s)), max(1, round(w * s))


def shrink(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` area-resized to ``size`` (height, width)."""
    import cv2

    return img if img.shape[:2] == size else cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def grow(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A working-resolution mask (bool or uint8) back at ``size`` (bilinear, threshold at half)."""
    import cv2

    m = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 1.0)
    if m.shape != size:
        m = cv2.resize(m, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return m >= 0.5
