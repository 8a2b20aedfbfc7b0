"""Geometry metrics: Chamfer distance, normal angular error, mask IoU.

* **Chamfer** — ``n`` points sampled uniformly (by area) on each surface; the mean of the two
  directed mean point-to-*surface* distances, ``(mean_a d(a, B) + mean_b d(b, A)) / 2`` (exact
  point-triangle distances, so no point-sampling noise floor), divided by the **ground-truth
  bounding-box diagonal** (reported as a fraction; x100 for percent).
* **Normal MAE** — mean angle (degrees) between predicted and ground-truth world-space shading
  normals over pixels covered in both (test views).
* **Mask IoU** — coverage > 0.5 in both / in either.
"""

from __future__ import annotations

import numpy as np
import torch

from relight.camera import Camera
from relight.mesh import Mesh, face_areas


def sample_surface(mesh: Mesh, n: int, seed: int = 0, return_faces: bool = False):
    """(n, 3) points uniformly distributed over the surface area (and their face indices)."""
    v, f = mesh.vertices.astype(np.float64), mesh.faces
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = face_areas(v, f)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(f), n, p=area / area.sum())
    r1, r2 = rng.random((2, n, 1))
    s = np.sqrt(r1)
    pts = (1 - s) * a[idx] + s * (1 - r2) * b[idx] + s * r2 * c[idx]
    return (pts, idx) if return_faces else pts


def point_to_surface(points: np.ndarray, mesh: Mesh, k: int = 8, seed: int = 0) -> np.ndarray:
    """(N,) distance of each point to the surface of ``mesh``: exact point-triangle distances to
    the faces of the ``k`` nearest of a dense set of surface samples (the candidates)."""
    from scipy.spatial import cKDTree
    from trimesh.triangles import closest_point

    samples, faces = sample_surface(mesh, max(20 * len(mesh.faces), 200_000), seed, return_faces=True)
    _, nn = cKDTree(samples).query(points, k=k, workers=-1)
    cand = faces[nn]  # (N, k)
    tris = mesh.vertices.astype(np.float64)[mesh.faces[cand.reshape(-1)]]
    q = np.repeat(points, k, axis=0)
    d = np.linalg.norm(closest_point(tris, q) - q, axis=1).reshape(-1, k)
    return d.min(1)


def chamfer(pred: Mesh, gt: Mesh, n: int = 50_000, seed: int = 0) -> float:
    """Symmetric mean point-to-surface Chamfer distance, fraction of ``gt``'s bbox diagonal."""
    d_ab = point_to_surface(sample_surface(pred, n, seed), gt, seed=seed + 2).mean()
    d_ba = point_to_surface(sample_surface(gt, n, seed + 1), pred, seed=seed + 3).mean()
    lo, hi = gt.bounds()
    return float(0.5 * (d_ab + d_ba) / np.linalg.norm(hi - lo))


def normal_mae(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """Mean angular error (degrees) of (..., 3) unit normals over ``mask`` (...)."""
    m = mask.astype(bool)
    p = pred[m] / np.maximum(np.linalg.norm(pred[m], axis=-1, keepdims=True), 1e-12)
    g = gt[m] / np.maximum(np.linalg.norm(gt[m], axis=-1, keepdims=True), 1e-12)
    cos = np.clip((p * g).sum(-1), -1.0, 1.0)
    return float(np.degrees(np.arccos(cos)).mean()) if len(cos) else float("nan")


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of coverage maps (> 0.5) of any matching shape."""
    a, b = pred > 0.5, gt > 0.5
    return float((a & b).sum() / max((a | b).sum(), 1))


def raster_normals(raster, mesh: Mesh, cameras: list[Camera]) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W, 3) interpolated unit vertex normals and (N, H, W) coverage, image layout."""
    from relight.raster import flip_y

    m = mesh.with_normals()
    dev = getattr(raster, "device", "cpu")
    v = torch.tensor(m.vertices, device=dev)
    nrm = torch.tensor(m.normals, device=dev)
    faces = torch.tensor(m.faces, device=dev)
    hom = torch.cat([v, torch.ones_like(v[:, :1])], 1)
    outs, covs = [], []
    with torch.no_grad():
        for cam in cameras:
            pos = (hom @ torch.tensor(cam.mvp(), dtype=torch.float32, device=dev).T)[None].contiguous()
            rast, _ = raster.rasterize(pos, faces, (cam.height, cam.width))
            n, _ = raster.interpolate(nrm, rast, faces)
            outs.append(flip_y(torch.nn.functional.normalize(n, dim=-1))[0].cpu().numpy())
            covs.append(flip_y((rast[..., 3:4] > 0).float())[0, ..., 0].cpu().numpy())
    return np.stack(outs), np.stack(covs)


def evaluate_geometry(mesh: Mesh, colors: np.ndarray, test, raster, gt_mesh: Mesh | None = None) -> dict:
    """Metrics of a geometry-stage result on a capture's test split.

    ``mask_iou`` (coverage vs. test masks), ``novel_view_psnr`` (dB; the per-vertex colour
    render vs. the sRGB-encoded test images, inside the test masks), ``normal_mae`` (degrees,
    when the capture has GT normals) and ``chamfer`` (fraction of the GT bbox diagonal, when
    ``gt_mesh`` is given).
    """
    from relight.evaluate import psnr
    from relight.geometry import render_views
    from relight.io.images import linear_to_srgb

    dev = getattr(raster, "device", "cpu")
    h, w = test.resolution
    v = torch.tensor(mesh.vertices, device=dev)
    f = torch.tensor(mesh.faces, device=dev)
    c = torch.tensor(colors, device=dev)
    rgbs, covs = [], []
    with torch.no_grad():
        for cam in test.cameras:
            mvp = torch.tensor(cam.mvp(), dtype=torch.float32, device=dev)[None]
            rgb, cov = render_views(raster, v, f, c, mvp, (h, w))
            rgbs.append(rgb[0].cpu().numpy())
            covs.append(cov[0].cpu().numpy())
    rgb, cov = np.stack(rgbs), np.stack(covs)
    gt_s = linear_to_srgb(np.clip(test.images, 0, 1))
    out = {"mask_iou": mask_iou(cov, test.masks), "novel_view_psnr": psnr(rgb, gt_s, test.masks > 0.5),
           "views": len(test)}
    if test.gt is not None and test.gt.normals is not None:
        n, ncov = raster_normals(raster, mesh, test.cameras)
        both = (ncov > 0.5) & (test.masks > 0.5)
        out["normal_mae"] = normal_mae(n, test.gt.normals, both)
    if gt_mesh is not None:
        out["chamfer"] = chamfer(mesh, gt_mesh)
    return out
