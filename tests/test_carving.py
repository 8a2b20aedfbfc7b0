"""Photo-consistency carving: it opens a crater the visual hull fills, and keeps the silhouettes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from relight.data.camera import orbit_cameras
from relight.data.capture import Capture
from relight.geometry.carving import photo_carve, surface_voxels
from relight.geometry.draw import render_views
from relight.geometry.hull import hull_occupancy, occupancy_mesh
from relight.geometry.raster import CpuRaster

RES = 40
LO, HI = np.full(3, -0.6), np.full(3, 0.6)


def _grid() -> np.ndarray:
    """(RES, RES, RES, 3) voxel centres spanning [LO, HI]."""
    ax = np.linspace(LO[0], HI[0], RES)
    return np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), -1)


def _crater_solid(x: np.ndarray) -> np.ndarray:
    """A 0.8-wide cube with a 0.4-wide, 0.45-deep square crater in its top face (+y): no
    silhouette reveals the crater, so the visual hull fills it."""
    box = np.all(np.abs(x) <= 0.4, -1)
    crater = (np.abs(x[..., 0]) <= 0.2) & (np.abs(x[..., 2]) <= 0.2) & (x[..., 1] >= -0.05)
    return box & ~crater


def _capture(solid: np.ndarray, colour) -> Capture:
    """32 views at 128² of the marching-cubes surface of ``solid`` (on the grid [LO, HI]);
    ``colour(v, i)``: the (V, 3) sRGB vertex colours seen in view ``i``."""
    mesh = occupancy_mesh(solid, LO, HI, smooth=0.8)
    cams = orbit_cameras(32, 2.6, 40.0, 128, 128)
    v, f = torch.tensor(mesh.vertices), torch.tensor(mesh.faces)
    imgs, masks = [], []
    for i, cam in enumerate(cams):
        rgb, cov = render_views(CpuRaster(), v, f, colour(v, i), torch.tensor(cam.mvp(), dtype=torch.float32)[None],
                                (128, 128))
        imgs.append((rgb[0].numpy() ** 2.2).astype(np.float32))
        masks.append(cov[0].numpy().astype(np.float32))
    return Capture(cams, np.stack(imgs), np.stack(masks), [f"v{i}" for i in range(len(cams))])


@pytest.fixture(scope="module")
def crater_capture():
    # a texture fine enough to tell the crater's walls and floor apart, the same in every view
    return _capture(_crater_solid(_grid()), lambda v, i: (0.5 + 0.4 * torch.sin(5.0 * v)).clamp(0, 1))


def _coverage(occ, lo, hi, cam) -> np.ndarray:
    """(H, W) bool: pixels onto which an occupied voxel centre projects (dilated by a pixel)."""
    from scipy.ndimage import binary_dilation

    step = (hi - lo) / (np.array(occ.shape) - 1)
    uv, _ = cam.project(lo + np.argwhere(occ) * step)
    cov = np.zeros((cam.height, cam.width), bool)
    i, j = np.floor(uv).astype(int).T
    ok = (i >= 0) & (j >= 0) & (i < cam.width) & (j < cam.height)
    cov[j[ok], i[ok]] = True
    return binary_dilation(cov, iterations=1)


def test_carving_opens_the_crater_and_keeps_the_solid(crater_capture):
    occ, lo, hi = hull_occupancy(crater_capture, RES)
    step = (hi - lo) / (RES - 1)
    x = lo + np.stack(np.meshgrid(*[np.arange(RES)] * 3, indexing="ij"), -1) * step
    solid = _crater_solid(x)
    fill = (occ > 0.5) & ~solid  # what the hull holds that is not there: mostly the crater
    in_crater = fill & (np.abs(x[..., 0]) < 0.15) & (np.abs(x[..., 2]) < 0.15) & (x[..., 1] > 0)
    assert in_crater.sum() > 50
    carved, st = photo_carve(crater_capture, occ > 0.5, lo, hi)
    assert st.carved > 0
    assert (carved & in_crater).sum() < 0.7 * in_crater.sum()  # the crater is opened (about half at this grid)
    assert (carved & solid).sum() > 0.97 * ((occ > 0.5) & solid).sum()  # the true solid stays


def test_carving_never_uncovers_a_mask_pixel(crater_capture):
    """Even when told to carve every voxel (threshold 0), the silhouettes hold."""
    occ, lo, hi = hull_occupancy(crater_capture, RES)
    carved, st = photo_carve(crater_capture, occ > 0.5, lo, hi, threshold=0.0, max_passes=6, check_ends=False)
    assert st.restored > 0 and carved.sum() < (occ > 0.5).sum()
    for cam, mask in zip(crater_capture.cameras[::4], crater_capture.masks[::4], strict=True):
        inside = mask > 0.9
        before, after = _coverage(occ > 0.5, lo, hi, cam), _coverage(carved, lo, hi, cam)
        assert (inside & before & ~after).sum() <= 0.01 * inside.sum()


def test_a_view_dependent_surface_is_not_carved():
    """A convex block whose colour changes with the view everywhere (as metal's does): carving
    eats into it, and the end check (the exposed floor is no more consistent) refills it."""
    x = _grid()
    block = np.all(np.abs(x) <= np.array([0.4, 0.3, 0.35]), -1)
    cap = _capture(block, lambda v, i: (0.5 + 0.35 * torch.sin(5.0 * v + 1.3 * i)).clamp(0, 1))
    occ, lo, hi = hull_occupancy(cap, RES)
    hull = occ > 0.5
    eaten, _ = photo_carve(cap, hull, lo, hi, check_ends=False)
    kept, st = photo_carve(cap, hull, lo, hi)
    assert eaten.sum() < 0.99 * hull.sum()
    assert st.undone > 0 and kept.sum() > 0.995 * hull.sum()


def test_surface_voxels_of_a_block_are_its_shell():
    occ = np.zeros((6, 6, 6), bool)
    occ[1:5, 1:5, 1:5] = True
    assert len(surface_voxels(occ)) == 4**3 - 2**3
