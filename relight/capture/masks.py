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
majority hull: probable object; outside it, dilated: background), so a background blob that one view got wrong is removed by
the others, and an object part it missed is put back. Each final mask's agreement with the
strict hull of the final masks (IoU) is reported; views below ``flag_iou`` are flagged. Views
are processed in parallel (``threads``), with the same results as one by one.

Images are 8-bit sRGB (H, W, 3) uint8 in the undistorted pinhole cameras of the capture; masks
are uint8 {0, 255}, white = object.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from relight.capture.background import dominant_plane, per_view, static_difference, warp_difference
from relight.capture.hulls import carve_hulls, hull_silhouette, iou, recall
from relight.data.camera import Camera
from relight.runtime.errors import RelightError


@dataclass
class MaskConfig:
    neighbours: int = 8
    """Views warped to predict a moving camera's background."""
    low: float = 0.04
    """sRGB difference to the predicted background below which a pixel is probable background."""
    high: float = 0.12
    """... above which it is probable object."""
    noise_quantile: float = 0.25
    """A view's background noise — how closely its predicted background matches where it is
    background (JPEG, sensor and render noise, exposure, a warp's resampling) — is taken as this
    quantile of its difference to the prediction: at least this share of the frame is assumed to
    be background. Where ``noise_low`` and ``noise_high`` times it are below ``low`` and
    ``high``, they replace them for that view (see :func:`for_view`)."""
    noise_low: float = 3.0
    noise_high: float = 6.0
    """A smooth, plain object differs from its warped neighbours by less than ``low`` over most
    of its area (its shading moves a little; its colour does not), while a textured background
    is predicted to within its noise. Measured on the blob photo set (59 views posed by SfM to
    0.1°): background median difference 0.005-0.011, object 0.030-0.044, ``low`` 0.04, so 55-73 %
    of the object matched the background and the first masks missed it (median IoU 0.083); at 3x
    and 6x the noise (quantile 0.25) 0.991. 2x / 5x and 4x / 8x gave the same median (0.991 and
    0.990). Final masks (both rounds): blob median / worst IoU 0.990 / 0.803, 93 % of views
    >= 0.95 (refused before: no consensus); the textured spot, whose object was found anyway,
    pays: 0.960 / 0.881 / 61 % -> 0.949 / 0.836 / 48 % (its shadow matches the floor less often
    at the lower ``low``). At 5x / 10x spot kept 0.960 / 0.836 / 58 % but blob fell to
    0.990 / 0.625 / 73 %; with the noise thresholds in the first round only, blob 0.989 / 0.731 /
    69 %."""
    sure_background: float = 0.012
    """Radius (fraction of the image's longer side) of the disc around a pixel that must match
    the predicted background all through for the pixel to be sure background; a pixel that
    matches alone is only probable background. A patterned object matches warped neighbours by
    chance in scattered spots (on the knot photo set a quarter of its pixels, which as sure
    background shredded the first masks: median IoU 0.08); the background matches over wide
    areas. Measured first-round median / worst IoU, knot 0.08 / 0.01 -> 0.98 / 0.86, spot
    0.906 / 0.28 -> 0.958 / 0.84 at 0.012; at 0.02 worst 0.66 (knot) and 0.63 (spot). 0: every
    matching pixel is sure background (as before)."""
    grabcut_iterations: int = 5
    max_side: int = 640
    """Masks are made at this longer side at most and scaled back (GrabCut takes ~5 s a
    megapixel photo; the edge moves by under a pixel of the full photo per 2x)."""
    hull_grid: int = 128
    """Voxels along the longest side of the carving volume."""
    hull_votes: float = 0.9
    """Fraction of the views seeing a voxel whose masks must contain it."""
    min_consensus: float = 0.05
    """Refuse the masks when the strict hull holds less than this fraction of the majority
    hull's voxels: the views then agree on almost no object, so the poses (or the first masks)
    are wrong, and the second round would only cut noise, slowly. Measured: 0.41 on the spot
    photo set; 0.0005 on the knot photo set, whose SfM poses are ~2° off (its second round ran
    over 15 min before it was stopped)."""
    min_recall: float = 0.75
    """A view's first mask votes on the strict hull only when it holds at least this fraction of
    the median view's share of the majority hull's silhouette. A mask that misses what the others
    agree on carves true object out of the strict hull for every view; one with extra background
    only carves less, so only the missing side is judged. Measured on the blob photo set (64
    views, the plain object's shaded lower side missed by the first masks of 10 low views):
    final median / worst IoU 0.986 / 0.753, 88 % of views >= 0.95 -> 0.984 / 0.953, 100 %;
    spot: no view left out, the same masks (0.958 / 0.831 / 56 %). Judging the views by IoU
    with the majority silhouette instead also left out 3 spot views whose first masks held
    their shadow: 0.950 / 0.831 / 52 %."""
    seed_votes: float = 1.0
    """Fraction of the voting views (:attr:`min_recall`) whose masks must hold a voxel for its
    silhouette, eroded, to be sure object in the second round (GrabCut cannot undo a sure label;
    the strict hull only marks probable object). The strict hull keeps a voxel that fewer than
    ``1 - hull_votes`` of the views see outside their masks: a concavity that only a few views
    see against the background (the blob's neck) was sure object in every view, and the first
    masks that had filled it stayed filled. Measured (final masks, median / worst IoU, views
    >= 0.95; outward bias = (wrongly kept - missed) pixels / true outline length): blob 0.984 /
    0.953 / 100 %, bias 1.76 px -> 0.991 / 0.960 / 100 %, 0.69 px; spot 0.958 / 0.831 / 56 % ->
    0.962 / 0.882 / 67 %; 0.97 gave the same (blob 0.991 / 0.959, spot 0.963 / 0.882 / 66 %).
    Why it matters: a mesh fitted to the blob's SfM capture (``relight geometry --downscale 2``)
    lay 0.0133 outside the true surface (of a ~0.85 radius; normal error 7.9°), with the truth's
    masks 0.0026 (5.5°), and 0.0066 (5.6°) with only the wrongly kept pixels over 2 px from the
    true outline put right: the filled concavities and background patches decide most of it."""
    flag_iou: float = 0.85
    """Views whose mask agrees less than this with the hull's silhouette are flagged."""
    threads: int = 0
    """Views processed at once (0: one per core). OpenCV and numpy release the GIL, so threads
    run in parallel; each view's result does not depend on the others' or on the order."""


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
    (strict,), voxel = carve_hulls(masks, cams, centre, radius, cfg.hull_grid, (cfg.hull_votes,))
    return per_view(lambda m, c: iou(m, hull_silhouette(strict, voxel, c)), zip(masks, cams, strict=True),
                    cfg.threads)


def refine_with_hull(images: list[np.ndarray], masks: list[np.ndarray], cams: list[Camera], centre: np.ndarray,
                     radius: float, cfg: MaskConfig, diff: list[np.ndarray] | None = None
                     ) -> tuple[list[np.ndarray], list[float]]:
    """Second GrabCut round seeded by visual hulls of ``masks``: the hull that every voting
    view's mask holds (:attr:`MaskConfig.seed_votes`) is sure object where eroded, the majority
    hull (inside half of them) with the view's own mask is probable object, and outside the
    dilated majority hull is sure background; the strict hull (a voxel inside ``hull_votes`` of
    the masks that see it) bounds where background-like pixels may stay probable object. So the views correct each other both ways: a
    background blob one view got wrong is outside the others' majority, and an object part one
    view missed (a dark patch on the silhouette, a foot on a floor of its colour) is inside it
    (measured on the spot photo set: missed object pixels 171k -> 58k, wrongly kept 41k -> 112k,
    median IoU 0.941 -> 0.947, worst view 0.31 -> 0.86; results/photos.md). Given each view's
    ``diff`` to its predicted background, a pixel that matches the background (below
    :attr:`MaskConfig.low`) and lies outside the strict hull is only probable background even
    inside the majority hull: nothing but that loose hull calls it object. This keeps the
    object's shadow on the floor out (the majority hull holds it when most first masks do): on
    the spot photo set wrongly kept pixels 76k -> 37k, missed 68k -> 70k, median IoU 0.953 ->
    0.967, worst view 0.870 -> 0.903. Only the views whose first masks hold most of the
    majority hull vote on the strict hull (:attr:`MaskConfig.min_recall`). Returns the new
    masks and their :func:`agreement`."""
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
    return final, agreement(final, cams, centre, radius, cfg)


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
