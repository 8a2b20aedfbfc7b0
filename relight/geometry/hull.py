"""Visual hull: the initial mesh of the geometry stage, carved from the capture's masks.

A voxel grid is projected into every view; a voxel whose centre falls on background (coverage
below ``threshold``) or outside the image in any view is carved away — the object is assumed
to be seen whole in every view, as in turntable and NeRF-style captures. The occupancy is smoothed a little
and turned into a watertight, outward-oriented triangle mesh by marching cubes (scikit-image).
Two passes: a coarse one in a cube bounded by the cameras finds the object's bounding box, a
fine one carves inside that box (padded), so the grid resolution is spent on the object.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.measure import marching_cubes

from relight.data.capture import Capture
from relight.data.mesh import Mesh
from relight.runtime.errors import RelightError


def carve(capture: Capture, lo: np.ndarray, hi: np.ndarray, res: int, threshold: float = 0.5) -> np.ndarray:
    """(res, res, res) float32 occupancy in {0, 1} of voxel centres in the box [lo, hi] (world)."""
    axes = [np.linspace(lo[k], hi[k], res, dtype=np.float64) for k in range(3)]
    g = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    occ = np.ones(len(g), dtype=bool)
    for cam, mask in zip(capture.cameras, capture.masks, strict=True):
        idx = np.flatnonzero(occ)
        uv, depth = cam.project(g[idx])
        i, j = np.floor(uv[:, 0]).astype(np.int64), np.floor(uv[:, 1]).astype(np.int64)
        seen = (depth > 0) & (i >= 0) & (j >= 0) & (i < cam.width) & (j < cam.height)
        bg = ~seen
        bg[seen] = mask[j[seen], i[seen]] < threshold
        occ[idx[bg]] = False
    return occ.reshape(res, res, res).astype(np.float32)


def camera_box(capture: Capture) -> tuple[np.ndarray, np.ndarray]:
    """A cube around the origin that the cameras look into: half-size = 0.6 x nearest camera distance."""
    r = 0.6 * min(float(np.linalg.norm(c.center)) for c in capture.cameras)
    return np.full(3, -r), np.full(3, r)


COARSE_RES = 48
"""Voxels per axis of the first carving pass, which only finds the object's bounding box."""
BOX_MARGIN = 2
"""Coarse cells added on each side of the occupied ones, so the fine pass cannot clip the object."""


def visual_hull(capture: Capture, res: int = 96, threshold: float = 0.5, smooth: float = 1.0) -> Mesh:
    """Watertight mesh of the masks' visual hull (marching cubes on a ``res``^3 grid).

    Raises RelightError when the masks carve everything away (inconsistent masks or cameras).
    """
    return occupancy_mesh(*hull_occupancy(capture, res, threshold), smooth)


def hull_occupancy(capture: Capture, res: int = 96, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The visual hull as a (res, res, res) occupancy in {0, 1} and its box (lo, hi): voxel centres
    span the box, fitted to the object (padded). Raises RelightError as :func:`visual_hull`."""
    if not capture.has_masks:
        raise RelightError("the geometry stage needs object masks", path=capture.root,
                           fix="give the images an alpha channel or per-frame mask_path entries")
    lo, hi = camera_box(capture)
    coarse = carve(capture, lo, hi, COARSE_RES, threshold)
    if coarse.sum() == 0:
        raise RelightError("the masks carve away the whole volume: masks and cameras disagree",
                           path=capture.root, fix="check the camera poses (OpenGL axes) and the masks")
    cell = (hi - lo) / (COARSE_RES - 1)  # voxel centres span the box: res - 1 cells
    nz = np.argwhere(coarse > 0)
    lo, hi = lo + (nz.min(0) - BOX_MARGIN) * cell, lo + (nz.max(0) + BOX_MARGIN) * cell
    return carve(capture, lo, hi, res, threshold), lo, hi


def occupancy_mesh(occ: np.ndarray, lo: np.ndarray, hi: np.ndarray, smooth: float = 1.0) -> Mesh:
    """Watertight, outward-oriented marching-cubes mesh of an occupancy grid whose voxel centres
    span [lo, hi], Gaussian-smoothed by ``smooth`` voxels first."""
    res = np.array(occ.shape)
    occ = np.pad(occ.astype(np.float32), 1)  # closed surface even where the object touches the box
    if smooth > 0:
        occ = gaussian_filter(occ, smooth)
    step = (hi - lo) / (res - 1)
    verts, faces, _, _ = marching_cubes(occ, 0.5, spacing=tuple(step))
    verts = verts - step + lo  # undo the padding
    return orient_outward(Mesh(verts.astype(np.float32), faces.astype(np.int32)))


def orient_outward(mesh: Mesh) -> Mesh:
    """Flip the winding when the mesh's signed volume is negative (normals pointing inward)."""
    v, f = mesh.vertices.astype(np.float64), mesh.faces
    vol = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6
    return mesh if vol >= 0 else Mesh(mesh.vertices, mesh.faces[:, ::-1].copy())
