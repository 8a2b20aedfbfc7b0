"""Visual hulls of masks, voxel by voxel, and their silhouettes: the multi-view consistency of
the automatic masks (:mod:`relight.capture.masks`) and the agreement each view's mask is scored by.

A voxel centre is *inside* a view when it projects onto that view's mask; a hull keeps the voxels
inside at least a fraction of the views that see them (1.0 — every one: the strict hull; 0.5 —
most: the majority hull). Masks are (H, W) bool or {0, 1}; cameras pinhole (``Camera``); points
world coordinates; the silhouette of a hull is drawn with discs of the voxels' projected size.
"""

from __future__ import annotations

import numpy as np

from relight.data.camera import Camera


def carve_hulls(masks: list[np.ndarray], cams: list[Camera], centre: np.ndarray, radius: float, grid: int,
                fractions: tuple[float, ...], chunk: int = 1 << 14) -> tuple[list[np.ndarray], float]:
    """The voxel centres of one visual hull per vote fraction (a voxel is kept when it falls
    inside the masks — (H, W) bool or {0, 1} — of at least that fraction of the views that see
    it), from one projection of the ``grid``³ voxels into the views, and the voxels' edge
    length. The voxels go through the views ``chunk`` at a time so the per-view temporaries stay
    in cache: the same hulls as all at once, faster (128³ voxels, 64 views: 7.5 s instead of 9.1 s alone on 2 cores; 24 s
    instead of 67 s while a fit used both cores)."""
    g = (np.arange(grid) + 0.5) / grid * 2 - 1
    pts = centre + radius * np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    hom = np.c_[pts, np.ones(len(pts))]
    inside = np.zeros(len(pts), np.int32)
    seen = np.zeros(len(pts), np.int32)
    mats = [c.pixel_matrix().T for c in cams]
    for s in range(0, len(pts), chunk):
        block, ins, sn = hom[s:s + chunk], inside[s:s + chunk], seen[s:s + chunk]
        for m, c, p in zip(masks, cams, mats, strict=True):
            uvd = block @ p
            d = uvd[:, 2]
            front = np.flatnonzero(d > 0)  # behind the camera: not seen (and no division by 0)
            x, y = uvd[front, 0] / d[front], uvd[front, 1] / d[front]
            inb = (x >= 0) & (x < c.width) & (y >= 0) & (y < c.height)
            idx = front[inb]
            sn[idx] += 1
            ins[idx] += m[y[inb].astype(np.int32), x[inb].astype(np.int32)]  # >= 0: the cast floors
    return [pts[(seen > 0) & (inside >= np.ceil(f * seen))] for f in fractions], 2 * radius / grid


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


def recall(mask: np.ndarray, silhouette: np.ndarray) -> float:
    """Share of ``silhouette``'s pixels that ``mask`` holds (1 when the silhouette is empty)."""
    n = int(silhouette.sum())
    return float(np.logical_and(mask, silhouette).sum() / n) if n else 1.0
