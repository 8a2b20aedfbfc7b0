"""Space carving by photo-consistency: open the concavities that the visual hull fills.

The visual hull (:mod:`relight.geometry.hull`) keeps every voxel that projects inside all masks, so
crevices that no silhouette reveals stay filled — between the tubes of a knot the fill even closes
handles, which a mesh of fixed topology (the refinement) cannot open. Space carving (Kutulakos &
Seitz, "A Theory of Shape by Space Carving", IJCV 2000) removes such voxels: a voxel on the true
surface looks the same from every view that sees it (a diffuse surface's colour does not depend on
the view), while a voxel of filled air shows, in each view, whatever true surface lies behind it —
different points, different colours.

One pass: the surface voxels (occupied, with an empty 6-neighbour) are splatted into every view's
depth buffer; a voxel is *seen* in a view when its depth is within ``tol`` voxels of the buffer's.
Its colour spread ``r`` (:func:`_spread`: over the darker half of the views that see it, each
sampled at the pixel of its footprint closest to its colour, so highlights on a dielectric and
texture edges within a voxel do not count) is compared with the ``pct`` percentile of the spread
of the first pass's *rim* voxels — seen on a mask edge, so touching the true surface: what a true
surface shows in these views (noise, gloss, texture) — and with ``min_spread``. Voxels above it are
carved, except where carving would uncover a mask pixel in some view. Passes repeat, each peeling
one layer, until few voxels go. Then each connected carved region is refilled unless the surface
it exposed is clearly consistent (:data:`END_RATIO`): carving air ends on a true surface, carving
into a view-dependent material (metal) stops where the spread just dips under the threshold. The
largest connected component is kept.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_erosion, find_objects, label

from relight.data.camera import pixel_size
from relight.data.capture import Capture
from relight.data.images import linear_to_srgb, resize_area

_NEIGHBOURS6 = np.zeros((3, 3, 3), bool)
_NEIGHBOURS6[1, 1, :] = _NEIGHBOURS6[1, :, 1] = _NEIGHBOURS6[:, 1, 1] = True


@dataclass(frozen=True)
class CarveStats:
    passes: int
    carved: int
    """Voxels removed over all passes."""
    restored: int
    """Candidates kept because removing them would have uncovered a mask pixel."""
    threshold: float
    """The colour-spread threshold used (sRGB units)."""
    undone: int = 0
    """Voxels refilled because their carved region ended on an inconsistent surface."""


def surface_voxels(occ: np.ndarray) -> np.ndarray:
    """(S, 3) integer indices of occupied voxels with at least one empty 6-neighbour (outside the grid is empty)."""
    inner = binary_erosion(occ, _NEIGHBOURS6, border_value=0)
    return np.argwhere(occ & ~inner)


def _views(capture: Capture, voxel: float, center: np.ndarray, px_per_voxel: float):
    """The capture's sRGB images, masks and cameras area-downscaled so a voxel spans about
    ``px_per_voxel`` pixels (never upscaled)."""
    h, w = capture.resolution
    scale = min(1.0, px_per_voxel * pixel_size(capture.cameras, center) / voxel)
    hs, ws = max(8, round(h * scale)), max(8, round(w * scale))
    masks = [resize_area(m[..., None], hs, ws)[..., 0] for m in capture.masks]
    # the images are premultiplied (object over black): divided by the coverage, a silhouette
    # pixel shows its surface's colour, not a blend with black
    imgs = [linear_to_srgb(np.clip(resize_area(im, hs, ws) / np.maximum(m, 0.5)[..., None], 0, 1)).astype(np.float32)
            for im, m in zip(capture.images, masks, strict=True)]
    return imgs, masks, [c.scaled(ws, hs) for c in capture.cameras]


def _splat_index(uv: np.ndarray, radius: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat pixel indices of a (2 radius + 1)² square around each point's pixel, and each entry's
    point index (entries off the image dropped)."""
    i0, j0 = np.floor(uv[:, 0]).astype(np.int64), np.floor(uv[:, 1]).astype(np.int64)
    offs = np.arange(-radius, radius + 1)
    di, dj = np.meshgrid(offs, offs, indexing="ij")
    ii, jj = i0[:, None] + di.ravel(), j0[:, None] + dj.ravel()
    pt = np.broadcast_to(np.arange(len(uv))[:, None], ii.shape)
    ok = (ii >= 0) & (jj >= 0) & (ii < w) & (jj < h)
    return (jj * w + ii)[ok], pt[ok]


@dataclass
class _Grid:
    """The voxel grid and the views it is judged in."""

    lo: np.ndarray
    step: np.ndarray
    voxel: float
    imgs: list
    masks: list
    edges: list
    cams: list

    def centres(self, idx: np.ndarray) -> np.ndarray:
        return self.lo + idx * self.step


def _spread(occ: np.ndarray, g: _Grid, tol: float, min_views: int, window: int = 1):
    """One pass over the surface voxels of ``occ``: their indices (S, 3), colour spread r (S,),
    whether they were judged (seen in ``min_views`` views or more) and whether they lie on a mask
    edge in a view that sees them (rim).

    r is the RMS deviation of the voxel's colours from their mean (sRGB, averaged over channels)
    over the darker half of the views that see it. Two robustifications, each against a way a
    true surface looks inconsistent: a highlight only adds light to a dielectric's diffuse colour,
    in some views, so the darker half of the views shows its diffuse colour; and a voxel spans a
    pixel or two with its centre up to half a voxel off the true surface, so at a texture edge the
    pixel under its centre may show either side: each view contributes the pixel of the
    (2 ``window`` + 1)² square around the centre's that is closest to the voxel's mean colour. A
    filled crevice shows different surfaces in the whole square and in dark and bright views alike."""
    sv = surface_voxels(occ)
    x = g.centres(sv)
    nv = len(g.cams)
    centre = np.full((len(sv), nv, 3), np.nan, np.float32)  # (S, V, 3): 13 k x 64 views at 64³: 10 MB
    where = []
    rim = np.zeros(len(sv), bool)
    for v, (img, mask, edge, cam) in enumerate(zip(g.imgs, g.masks, g.edges, g.cams, strict=True)):
        hs, ws = mask.shape
        uv, depth = cam.project(x)
        pix, pt = _splat_index(uv, _radius(g.voxel, cam, depth), ws, hs)
        zbuf = np.full(hs * ws, np.inf)
        np.minimum.at(zbuf, pix, depth[pt])
        i, j = np.floor(uv[:, 0]).astype(np.int64), np.floor(uv[:, 1]).astype(np.int64)
        inside = (i >= 0) & (j >= 0) & (i < ws) & (j < hs)
        i, j = np.clip(i, 0, ws - 1), np.clip(j, 0, hs - 1)
        seen = inside & (depth <= zbuf[j * ws + i] + tol * g.voxel) & (mask[j, i] >= 0.5)
        rim |= seen & edge[j, i]
        centre[seen, v] = img[j[seen], i[seen]]
        where.append((seen, i[seen], j[seen]))
    n = np.isfinite(centre[..., 0]).sum(1)
    judged = n >= min_views
    mean = _darker_half_mean(centre)
    offs = np.arange(-window, window + 1)
    di, dj = (a.ravel() for a in np.meshgrid(offs, offs, indexing="ij"))
    matched = np.full_like(centre, np.nan)
    for v, (seen, i, j) in enumerate(where):
        hs, ws = g.masks[v].shape
        c = g.imgs[v][np.clip(j[:, None] + dj, 0, hs - 1), np.clip(i[:, None] + di, 0, ws - 1)]  # (s, K, 3)
        best = np.argmin(((c - mean[seen, None]) ** 2).sum(-1), 1)
        matched[seen, v] = c[np.arange(len(c)), best]
    dark = _darker_half(matched)
    mm = _darker_half_mean(matched)
    dev = np.where(dark[..., None], (matched - mm[:, None]) ** 2, 0.0)
    r = np.sqrt(dev.sum(1).mean(1) / np.maximum(dark.sum(1), 1))
    return sv, np.where(judged, r, 0.0), judged, rim


def _darker_half(c: np.ndarray) -> np.ndarray:
    """(S, V) bool: the observations (of (S, V, 3), NaN where unseen) at or below each voxel's
    median brightness."""
    lum = c.mean(-1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # voxels seen in no view: all-NaN rows
        med = np.nanmedian(lum, 1)
    return np.isfinite(lum) & (lum <= med[:, None])


def _darker_half_mean(c: np.ndarray) -> np.ndarray:
    """(S, 3) mean colour of each voxel's darker half of observations (0 where unseen)."""
    dark = _darker_half(c)
    return np.where(dark[..., None], np.nan_to_num(c), 0.0).sum(1) / np.maximum(dark.sum(1), 1)[:, None]


def _radius(voxel: float, cam, depth: np.ndarray) -> int:
    """Half-width in pixels of the square a voxel is splatted as in ``cam``'s image."""
    return max(0, int(np.ceil(0.5 * voxel * cam.fx / depth.mean() - 0.5)))


def photo_carve(capture: Capture, occ: np.ndarray, lo: np.ndarray, hi: np.ndarray, pct: float = 95.0,
                min_spread: float = 0.05, tol: float = 1.5, min_views: int = 4, max_passes: int = 40,
                px_per_voxel: float = 1.5, threshold: float | None = None,
                check_ends: bool = True) -> tuple[np.ndarray, CarveStats]:
    """Carve photo-inconsistent voxels from the occupancy ``occ`` (res³ bool, voxel centres spanning
    the world box [lo, hi]). Returns the new occupancy and what was done. ``threshold`` (sRGB
    colour spread) replaces the rule: the ``pct`` percentile of the spread of the first pass's
    rim voxels, and at least ``min_spread`` (sRGB RMS; what noise and sub-voxel misregistration
    give on a real surface even in a noise-free render). With ``check_ends``, each connected
    carved region is undone unless the surface it exposed is photo-consistent (see module)."""
    hull = occ.astype(bool)
    occ = hull.copy()
    step = (hi - lo) / (np.array(occ.shape) - 1)
    voxel = float(step.mean())
    imgs, masks, cams = _views(capture, voxel, (lo + hi) / 2, px_per_voxel)
    edges = [(m >= 0.5) & ~binary_erosion(m >= 0.5, np.ones((3, 3), bool)) for m in masks]
    g = _Grid(lo, step, voxel, imgs, masks, edges, cams)
    carved = restored = 0
    passes = 0
    for passes in range(1, max_passes + 1):  # noqa: B007
        sv, r, judged, rim = _spread(occ, g, tol, min_views)
        if not judged.any():  # nothing seen by enough views: nothing to judge
            break
        if threshold is None:  # the rim voxels touch the true surface along the silhouettes'
            # generators: their spread is what a true surface shows in these views
            ref = r[judged & rim] if (judged & rim).sum() >= 20 else r[judged]
            threshold = max(float(np.percentile(ref, pct)), min_spread)
        cand = judged & (r > threshold)
        if not cand.any():
            break
        cand_idx = sv[cand]
        new = occ.copy()
        new[tuple(cand_idx.T)] = False
        keep = _protect_silhouettes(occ, new, cand_idx, g)
        restored += int(keep.sum())
        new[tuple(cand_idx[keep].T)] = True
        removed = int((~keep).sum())
        carved += removed
        occ = new
        if removed < max(1, 1e-3 * len(sv)):
            break
    undone = 0
    if check_ends and carved:
        occ, undone = _undo_inconsistent_ends(hull, occ, g, threshold, tol, min_views)
    lab, nlab = label(occ)
    if nlab > 1:
        occ = lab == np.argmax(np.bincount(lab.ravel())[1:]) + 1
    return occ, CarveStats(passes, carved - undone, restored, float(threshold or 0.0), undone)


END_RATIO = 0.5
"""A carved region is kept when the median colour spread of the surface it exposed is below this
share of the carving threshold. Carving air ends on the true surface, whose spread is that of
the rim voxels (median to 75th percentile: 0.2-0.45 of their 95th, the threshold); carving into
a material whose colour changes with the view goes on until the spread dips just under the
threshold, so its floor sits right below it. Measured on the first carving of the hull: the
knot's filled crevices 0.24-0.48 of the threshold, the metallic bottle's bands and cap 0.63-0.78
(``results/carving.md``)."""


def _undo_inconsistent_ends(hull: np.ndarray, occ: np.ndarray, g: _Grid, threshold: float, tol: float,
                            min_views: int) -> tuple[np.ndarray, int]:
    """Refill each connected region of carved voxels whose exposed floor (the judged surface voxels
    of ``occ`` next to it) has a median spread of ``END_RATIO`` times ``threshold`` or more."""
    from scipy.ndimage import binary_dilation

    sv, r, judged, _ = _spread(occ, g, tol, min_views)
    spread = np.full(occ.shape, np.nan)
    spread[tuple(sv[judged].T)] = r[judged]
    lab, _ = label(hull & ~occ, np.ones((3, 3, 3), bool))
    occ = occ.copy()
    undone = 0
    for k, box in enumerate(find_objects(lab), 1):  # each region within its bounding box, grown by
        # a voxel so that its dilation (the floor) fits
        box = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in box)
        region = lab[box] == k
        floor = spread[box][binary_dilation(region, _NEIGHBOURS6) & occ[box]]
        floor = floor[np.isfinite(floor)]
        if len(floor) == 0 or np.median(floor) >= END_RATIO * threshold:
            occ[box] |= region
            undone += int(region.sum())
    return occ, undone


def _coverage(centres: np.ndarray, g: _Grid, cam, h: int, w: int) -> np.ndarray:
    """(h * w,) bool: pixels covered by voxels at world ``centres`` (N, 3), splatted."""
    uv, depth = cam.project(centres)
    pix, _ = _splat_index(uv, _radius(g.voxel, cam, depth), w, h)
    cov = np.zeros(h * w, bool)
    cov[pix] = True
    return cov


def _protect_silhouettes(old: np.ndarray, new: np.ndarray, cand: np.ndarray, g: _Grid) -> np.ndarray:
    """(C,) bool: candidates to keep because carving them uncovers a mask pixel (mask ≥ 0.5) that
    the old occupancy covered, in some view. Each occupancy's silhouette is that of its surface
    voxels."""
    keep = np.zeros(len(cand), bool)
    x = g.centres(cand)
    x_old, x_new = g.centres(surface_voxels(old)), g.centres(surface_voxels(new))
    for mask, cam in zip(g.masks, g.cams, strict=True):
        h, w = mask.shape
        lost = _coverage(x_old, g, cam, h, w) & ~_coverage(x_new, g, cam, h, w)
        lost &= mask.ravel() >= 0.5
        if not lost.any():
            continue
        uv, depth = cam.project(x)
        pix, pt = _splat_index(uv, _radius(g.voxel, cam, depth), w, h)
        keep[np.unique(pt[lost[pix]])] = True
    return keep
