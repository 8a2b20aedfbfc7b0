"""Camera pose refinement in the geometry stage (``GeometryConfig.pose_lr``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from test_geometry import _ellipsoid, _sphere, sphere_capture

from relight.capture.frame import rotation_angle_deg
from relight.data.mesh import rotation_y
from relight.geometry.config import GeometryConfig
from relight.geometry.draw import render_views
from relight.geometry.fit import fit_geometry, refined_cameras
from relight.geometry.losses import silhouette_loss
from relight.geometry.poses import PoseCorrections
from relight.geometry.raster import CpuRaster
from relight.geometry.state import load_checkpoint


def _reprojection_px(cams, truth, points: np.ndarray) -> np.ndarray:
    """Per view, the largest image displacement (pixels) of ``points`` between ``cams`` and ``truth``."""
    return np.array([np.abs(a.project(points)[0] - b.project(points)[0]).max() for a, b in zip(cams, truth, strict=True)])


def test_zero_corrections_are_the_cameras_and_the_gauge_is_projected_off():
    cap = sphere_capture(_sphere(0.5, 1), n=8, res=16)
    p = PoseCorrections(cap.cameras, 1e-3)
    w2c = p.w2c(torch.arange(8)).detach().double().numpy()
    np.testing.assert_allclose(w2c, np.stack([c.w2c for c in cap.cameras]), atol=1e-5)
    # a common rotation about the origin, translation and scale of every camera is not a correction
    wg, tg = torch.tensor([0.01, -0.02, 0.005]), torch.tensor([0.1, 0.2, -0.1])
    with torch.no_grad():
        p.omega[:] = wg
        p.delta[:] = torch.cross(wg.expand_as(p.C), p.C, dim=1) + tg + 0.05 * p.C
    p.omega.grad, p.delta.grad = torch.zeros_like(p.omega), torch.zeros_like(p.delta)  # Adam moves nothing
    p.step()
    assert p.omega.abs().max() < 1e-7 and p.delta.abs().max() < 1e-5


def test_a_turned_camera_is_turned_back_by_the_silhouettes():
    """One view of a fixed, known mesh is given a camera turned by 1 deg about its centre (0.8 px
    at 32 px): the silhouette loss through the corrections brings its image back to within a
    quarter of that, without pushing the other views off by more than a quarter pixel."""
    mesh = _ellipsoid()
    cap = sphere_capture(mesh, n=8, res=32)
    turned = np.eye(4)
    turned[:3, :3] = rotation_y(1.0)
    wrong = list(cap.cameras)
    wrong[3] = replace(wrong[3], c2w=wrong[3].c2w @ turned)
    before = _reprojection_px(wrong, cap.cameras, mesh.vertices)
    assert 0.7 < before[3] < 0.9 and np.delete(before, 3).max() < 1e-6
    raster, v, f = CpuRaster(), torch.tensor(mesh.vertices), torch.tensor(mesh.faces)
    proj = torch.tensor(np.stack([c.projection() for c in wrong]), dtype=torch.float32)
    masks = torch.tensor(cap.masks)
    p = PoseCorrections(wrong, 5e-4)
    for _ in range(120):
        _, cov = render_views(raster, v, f, torch.zeros(len(v), 3), proj @ p.w2c(torch.arange(8)), (32, 32))
        p.zero_grad()
        silhouette_loss(cov, masks).backward()
        p.step()
    after = _reprojection_px(p.cameras(wrong), cap.cameras, mesh.vertices)
    assert after[3] < before[3] / 4, after
    assert after.max() < 0.25, after


def test_pose_refinement_resumes_exactly_and_returns_the_cameras(tmp_path):
    """A fit with pose_lr stopped in the last level and resumed follows the uninterrupted run, its
    cameras included; a finished checkpoint gives the same cameras back (``relight fit --resume``)."""
    cap = sphere_capture(_ellipsoid(), n=8, res=32)
    cfg = GeometryConfig(iterations=8, levels=2, level_split=[0.5, 0.5], image_res=32, batch_views=2,
                         checkpoint_every=2, max_faces=10_000, pose_lr=1e-3)
    init = _sphere(0.8, 2)
    full = fit_geometry(cap, cfg, CpuRaster(), init=init)
    assert full.cameras is not None and len(full.cameras) == 8
    moved = max(rotation_angle_deg(a.c2w[:3, :3], b.c2w[:3, :3]) for a, b in zip(full.cameras, cap.cameras, strict=True))
    assert 0 < moved < 1.0
    fit_geometry(cap, cfg, CpuRaster(), init=init, checkpoint_dir=tmp_path, stop_at=6)
    rest = fit_geometry(cap, cfg, CpuRaster(), checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_allclose(rest.losses, full.losses, rtol=1e-5)
    np.testing.assert_allclose(rest.mesh.vertices, full.mesh.vertices, atol=1e-5)
    for a, b in zip(rest.cameras, full.cameras, strict=True):
        np.testing.assert_allclose(a.c2w, b.c2w, atol=1e-6)
    ck = load_checkpoint(tmp_path, cfg)
    for a, b in zip(refined_cameras(cap, cfg, ck.arrays), full.cameras, strict=True):
        np.testing.assert_allclose(a.c2w, b.c2w, atol=1e-6)
    assert fit_geometry(cap, replace(cfg, pose_lr=0.0), CpuRaster(), init=init).cameras is None
