"""Predicting the background of a photo from the others, for automatic masks
(:mod:`relight.capture.masks`): per pixel, how far the photo is from what the background would
look like there (sRGB, max over channels; NaN = unknown).

* **still background** (a turntable: camera and room fixed, the object turns): the per-pixel
  median of all photos (:func:`static_difference`);
* **moving camera** around an object standing on a table or floor, in front of a distant or
  plain background: each view is compared with its neighbours warped by the homography at
  infinity and by the table plane's homography (the plane holding most SfM points, RANSAC:
  :func:`dominant_plane`), each scaled by its exposure ratio; a background pixel matches some
  neighbour, the object, which lies on neither, matches none (:func:`warp_difference`).

Images are 8-bit sRGB (H, W, 3) uint8 in the undistorted pinhole cameras of the capture.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from relight.data.camera import Camera
from relight.data.images import srgb_to_linear


def per_view(fn: Callable, items: Iterable, threads: int = 0) -> list:
    """``[fn(*item) for item in items]``, ``threads`` views at a time (0: one per core)."""
    items = list(items)
    n = threads or os.cpu_count() or 1
    if n <= 1 or len(items) <= 1:
        return [fn(*it) for it in items]
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda it: fn(*it), items))


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
                    plane: tuple[np.ndarray, float] | None = None, threads: int = 0) -> list[np.ndarray]:
    """Per view, the smallest difference (max over channels, sRGB [0, 1]; NaN where no
    neighbour sees the pixel) to its ``k`` nearest views (by viewing direction) warped into it
    by the homography at infinity and, given a ``plane`` (the table), by the plane's homography,
    each exposure-matched. The background (far away, or on the table) matches some neighbour
    that sees it unoccluded; the object, off both, matches none."""
    import cv2

    floats = [im.astype(np.float32) / 255 for im in images]

    def one(i: int, ci: Camera, near: list[int]) -> np.ndarray:
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
        return best

    return per_view(one, zip(range(len(cams)), cams, nearest_views(cams, k), strict=True), threads)
