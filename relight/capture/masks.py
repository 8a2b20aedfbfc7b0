"""Automatic object masks for photos without any, by classic offline methods (no model weights).

Two common setups are covered (the user says which: ``relight poses --light-frame rig`` is a
turntable):

* **the background stays still in the image** (a turntable: camera and room fixed, the object
  turns): the background is the per-pixel median of all photos (:func:`static_difference`);
* **the camera moves around the object** standing on a table or floor, in front of a distant
  or plain background: each view is compared with its neighbours warped by the homography at
  infinity and by the table plane's homography (the plane holding most SfM points, RANSAC),
  each scaled by its exposure ratio; a background pixel matches some neighbour, the object,
  which lies on neither, matches none (:func:`warp_difference`).

Pixels far from the background are probable object, near ones background; SfM points near the
object centre and off the table are sure object, and inside their outline nothing is sure
background; OpenCV's **GrabCut** (colour models, graph cut) turns that into a mask with the
photo's own edges; enclosed holes are filled (so objects with through-holes keep them filled). **Multi-view consistency**: a visual
hull is carved from all masks (a point is kept when it falls inside the mask of at least
``hull_votes`` of the views that see it), projected back, and a second GrabCut round takes it as
its seeds (inside the eroded hull: object; outside the dilated hull: background), so a
background blob that one view got wrong is removed by the others. Each view's agreement with
the hull (IoU) is reported; views below ``flag_iou`` are flagged.

Images are 8-bit sRGB (H, W, 3) uint8 in the undistorted pinhole cameras of the capture; masks
are uint8 {0, 255}, white = object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relight.data.camera import Camera
from relight.data.images import srgb_to_linear


@dataclass
class MaskConfig:
    neighbours: int = 8
    """Views warped to predict a moving camera's background."""
    low: float = 0.04
    """sRGB difference to the predicted background below which a pixel is probable background."""
    high: float = 0.12
    """... above which it is probable object."""
    grabcut_iterations: int = 5
    max_side: int = 640
    """Masks are made at this longer side at most and scaled back (GrabCut takes ~5 s a
    megapixel photo; the edge moves by under a pixel of the full photo per 2x)."""
    hull_grid: int = 128
    """Voxels along the longest side of the carving volume."""
    hull_votes: float = 0.9
    """Fraction of the views seeing a voxel whose masks must contain it."""
    flag_iou: float = 0.85
    """Views whose mask agrees less than this with the hull's silhouette are flagged."""


def _gains(img: np.ndarray, ref: np.ndarray, valid: np.ndarray, linear: bool = False) -> float:
    """Exposure ratio img / ref (linear, robust: median over valid mid-tone pixels); ``linear``:
    both are linear already."""
    a, b = (img, ref) if linear else (srgb_to_linear(img), srgb_to_linear(ref))
    a, b = _channel_mean(a), _channel_mean(b)
    ok = valid & (a > 0.02) & (a < 0.9) & (b > 0.02) & (b < 0.9)
    return float(np.median(a[ok] / b[ok])) if ok.sum() > 100 else 1.0


def _channel_mean(x: np.ndarray) -> np.ndarray:
    """Mean over the last axis of (..., 3): the same numbers as ``mean(-1)``, without numpy's slow
    reduction along a 3-long axis."""
    return (x[..., 0] + x[..., 1] + x[..., 2]) / np.float32(3)


def _channel_max(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(x[..., 0], x[..., 1]), x[..., 2])


def _rescale(img: np.ndarray, gain: float, linear: bool = False) -> np.ndarray:
    from relight.data.images import linear_to_srgb

    return np.clip(linear_to_srgb(np.clip((img if linear else srgb_to_linear(img)) * gain, 0, 1)), 0, 1)


def nearest_views(cams: list[Camera], k: int) -> list[list[int]]:
    """For each camera, the ``k`` others whose viewing directions are closest to its own."""
    fwd = np.stack([-c.c2w[:3, 2] for c in cams])
    return [[j for j in np.argsort(-(fwd @ fwd[i])) if j != i][:k] for i in range(len(cams))]


def static_difference(images: list[np.ndarray], low: float) -> list[np.ndarray]:
    """Per view, the difference (max over channels, sRGB [0, 1]) to the per-pixel median of all
    photos, exposure-matched, for a still background (turntable). The turning object stays in
    the same image region, so the median there is the object itself: where a pixel changes over
    the set (its 75th-percentile difference > ``low``) but not in this view, the view's
    difference says nothing and is NaN (left to GrabCut's colour models); pixels that never
    change are the still background (0)."""
    stack = np.stack(images).astype(np.float32) / 255
    med = np.median(stack, axis=0)
    ones = np.ones(med.shape[:2], bool)
    diffs = np.stack([_channel_max(np.abs(im - _rescale(med, _gains(im, med, ones)))) for im in stack])
    moving = np.percentile(diffs, 75, axis=0) > low
    del stack
    return [np.where(moving & (d <= low), np.nan, np.where(moving, d, 0.0)).astype(np.float32) for d in diffs]


def dominant_plane(points: np.ndarray, tol: float, min_share: float = 0.25, iters: int = 500,
                   seed: int = 0) -> tuple[np.ndarray, float] | None:
    """``(n, c)`` of the plane ``n . x = c`` (unit ``n``) holding the most SfM points within
    ``tol`` (RANSAC), when it holds at least ``min_share`` of them: the table or floor the object
    stands on. None otherwise."""
    if len(points) < 30:
        return None
    rng = np.random.default_rng(seed)
    best, best_n = None, 0
    for _ in range(iters):
        a, b, c = points[rng.choice(len(points), 3, replace=False)]
        n = np.cross(b - a, c - a)
        if np.linalg.norm(n) < 1e-12:
            continue
        n /= np.linalg.norm(n)
        k = int((np.abs(points @ n - n @ a) < tol).sum())
        if k > best_n:
            best, best_n = (n, float(n @ a)), k
    if best is None or best_n < min_share * len(points):
        return None
    n, c = best  # least-squares refit on the inliers
    inl = points[np.abs(points @ n - c) < tol]
    centre = inl.mean(0)
    n = np.linalg.svd(inl - centre)[2][2]
    return n, float(n @ centre)


def _homographies(ci: Camera, cj: Camera, plane: tuple[np.ndarray, float] | None) -> list[np.ndarray]:
    """OpenCV-pixel homographies taking view i's pixels to view j's for the points at infinity
    and, when given, on ``plane`` ``(n, c)``: ``K_j (R + t n_i^T / d_i) K_i^-1``."""
    half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])  # relight pixel centres at +0.5, OpenCV's at 0
    flip = np.diag([1.0, -1.0, -1.0])
    ri, ti = flip @ ci.w2c[:3, :3], flip @ ci.w2c[:3, 3]  # world -> OpenCV camera
    rj, tj = flip @ cj.w2c[:3, :3], flip @ cj.w2c[:3, 3]
    r, t = rj @ ri.T, tj - rj @ ri.T @ ti
    ki, kj = np.linalg.inv(half) @ ci.K(), np.linalg.inv(half) @ cj.K()
    out = [kj @ r @ np.linalg.inv(ki)]
    if plane is not None:
        n, c = plane
        ni = ri @ n
        di = c + ni @ ti
        if abs(di) > 1e-9:
            out.append(kj @ (r + np.outer(t, ni) / di) @ np.linalg.inv(ki))
    return out


def warp_difference(images: list[np.ndarray], cams: list[Camera], k: int,
                    plane: tuple[np.ndarray, float] | None = None) -> list[np.ndarray]:
    """Per view, the smallest difference (max over channels, sRGB [0, 1]; NaN where no
    neighbour sees the pixel) to its ``k`` nearest views (by viewing direction) warped into it
    by the homography at infinity and, given a ``plane`` (the table), by the plane's homography,
    each exposure-matched. The background (far away, or on the table) matches some neighbour
    that sees it unoccluded; the object, off both, matches none."""
    import cv2

    floats = [im.astype(np.float32) / 255 for im in images]
    out = []
    for i, (ci, near) in enumerate(zip(cams, nearest_views(cams, k), strict=True)):
        img = floats[i]
        img_lin = srgb_to_linear(img)  # once per view, not per warp (the same numbers)
        best = np.full(img.shape[:2], np.nan, np.float32)
        for j in near:
            for h in _homographies(ci, cams[j], plane):
                w = cv2.warpPerspective(floats[j], h, (ci.width, ci.height),
                                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=(np.nan,) * 3)
                valid = np.isfinite(w).all(-1)
                if valid.sum() < 100:
                    continue
                w_lin = srgb_to_linear(np.nan_to_num(w))  # finite where valid: as linearizing w[valid]
                g = _gains(img_lin[valid][None], w_lin[valid][None], np.ones((1, int(valid.sum())), bool), True)
                d = _channel_max(np.abs(img - _rescale(w_lin, g, True)))
                d[~valid] = np.nan
                best = np.fmin(best, d)
        out.append(best)
    return out


def _grabcut(img: np.ndarray, trimap: np.ndarray, iters: int) -> np.ndarray:
    """OpenCV GrabCut from a trimap of ``cv2.GC_*`` labels; (H, W) bool object mask."""
    import cv2

    gc = trimap.copy()
    fg = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    if not fg.any() or fg.all():
        return fg
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(np.ascontiguousarray(img[..., ::-1]), gc, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    return np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD))


def initial_mask(img: np.ndarray, diff: np.ndarray, seeds: np.ndarray | None, cfg: MaskConfig) -> np.ndarray:
    """GrabCut mask (H, W) bool of one photo from its difference to the background (NaN =
    unknown) and optional sure-object pixel seeds (M, 2) ``(u, v)``."""
    import cv2

    tri = np.full(diff.shape, cv2.GC_PR_BGD, np.uint8)
    tri[diff > cfg.high] = cv2.GC_PR_FGD
    tri[diff < cfg.low] = cv2.GC_BGD
    tri[np.isnan(diff)] = cv2.GC_PR_BGD
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
    n = cfg.hull_grid
    g = (np.arange(n) + 0.5) / n * 2 - 1
    pts = centre + radius * np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    inside = np.zeros(len(pts), np.int32)
    seen = np.zeros(len(pts), np.int32)
    for m, c in zip(masks, cams, strict=True):
        uv, depth = c.project(pts)
        u, v = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
        vis = (depth > 0) & (u >= 0) & (u < c.width) & (v >= 0) & (v < c.height)
        seen += vis
        inside[vis] += m[v[vis], u[vis]]
    keep = (seen > 0) & (inside >= np.ceil(cfg.hull_votes * seen))
    return pts[keep], 2 * radius / n


def hull_silhouette(points: np.ndarray, voxel: float, cam: Camera) -> np.ndarray:
    """(H, W) bool: the pixels the voxels (centres ``points``, edge ``voxel``) cover in ``cam``."""
    import cv2

    sil = np.zeros((cam.height, cam.width), np.uint8)
    uv, depth = cam.project(points)
    ok = depth > 0
    rad = np.maximum(1, np.round(0.75 * voxel * cam.fx / depth[ok])).astype(int)
    for r in np.unique(rad):
        sel = uv[ok][rad == r]
        ij = np.round(sel).astype(int)
        inb = (ij[:, 0] >= 0) & (ij[:, 0] < cam.width) & (ij[:, 1] >= 0) & (ij[:, 1] < cam.height)
        tmp = np.zeros_like(sil)
        tmp[ij[inb, 1], ij[inb, 0]] = 1
        sil |= cv2.dilate(tmp, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return sil.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def refine_with_hull(images: list[np.ndarray], masks: list[np.ndarray], cams: list[Camera], centre: np.ndarray,
                     radius: float, cfg: MaskConfig) -> tuple[list[np.ndarray], list[float]]:
    """Second GrabCut round seeded by the visual hull of ``masks``; returns the new masks and
    each first-round mask's IoU with the hull silhouette (the views' agreement)."""
    import cv2

    pts, voxel = carve_hull([m.astype(np.int32) for m in masks], cams, centre, radius, cfg)
    out, agree = [], []
    for img, m, c in zip(images, masks, cams, strict=True):
        sil = hull_silhouette(pts, voxel, c)
        agree.append(iou(m, sil))
        px = max(2, int(round(voxel * c.fx / np.linalg.norm(c.center - centre))))
        ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
        inner = cv2.erode(sil.astype(np.uint8), ker).astype(bool)
        outer = cv2.dilate(sil.astype(np.uint8), ker).astype(bool)
        tri = np.where(m, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        tri[inner & m] = cv2.GC_FGD
        tri[~outer] = cv2.GC_BGD
        out.append(_largest_parts(_grabcut(img, tri, cfg.grabcut_iterations)))
    return out, agree


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
    if first is None:
        diff = static_difference(images, cfg.low) if static else warp_difference(images, cams, cfg.neighbours, plane)
        first = [initial_mask(im, d, c.project(seeds)[0] if len(seeds) else None, cfg)
                 for im, d, c in zip(images, diff, cams, strict=True)]
    masks, agree = refine_with_hull(images, [m.astype(bool) for m in first], cams, centre, half, cfg)
    return [np.where(m, 255, 0).astype(np.uint8) for m in masks], agree


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
