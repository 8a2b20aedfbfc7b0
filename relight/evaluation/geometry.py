"""Metrics of a geometry-stage result (mesh + per-vertex colour) on a capture's test split,
rendered through the raster context (:mod:`relight.geometry.raster`)."""

from __future__ import annotations

import numpy as np
import torch

from relight.data.camera import Camera
from relight.data.capture import Capture
from relight.data.images import linear_to_srgb
from relight.data.mesh import Mesh
from relight.evaluation.metrics import chamfer, normal_mae, overlap, psnr_of, squared_error
from relight.geometry.draw import render_views
from relight.geometry.raster import Raster, flip_y


def raster_normals(raster: Raster, mesh: Mesh, cameras: list[Camera]) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W, 3) interpolated unit vertex normals and (N, H, W) coverage, image layout."""
    m = mesh.with_normals()
    dev = raster.device
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


def evaluate_geometry(mesh: Mesh, colors: np.ndarray, test: Capture, raster: Raster, gt_mesh: Mesh | None = None) -> dict:
    """Metrics of a geometry-stage result on a capture's test split.

    ``mask_iou`` (coverage vs. test masks), ``novel_view_psnr`` (dB; the per-vertex colour
    render vs. the sRGB-encoded test images, inside the test masks), ``normal_mae`` (degrees,
    when the capture has GT normals) and ``chamfer`` (fraction of the GT bbox diagonal, when
    ``gt_mesh`` is given).
    """
    dev = raster.device
    h, w = test.resolution
    v = torch.tensor(mesh.vertices, device=dev)
    f = torch.tensor(mesh.faces, device=dev)
    c = torch.tensor(colors, device=dev)
    sse, count, inter, union = 0.0, 0, 0, 0  # summed view by view: a large split is never whole
    with torch.no_grad():
        for i, cam in enumerate(test.cameras):
            mvp = torch.tensor(cam.mvp(), dtype=torch.float32, device=dev)[None]
            rgb, cov = render_views(raster, v, f, c, mvp, (h, w))
            rgb, cov, gt_mask = rgb[0].cpu().numpy(), cov[0].cpu().numpy(), test.masks[i]
            e, n = squared_error(rgb, linear_to_srgb(np.clip(test.images[i], 0, 1)), gt_mask > 0.5)
            a, b = overlap(cov, gt_mask)
            sse, count, inter, union = sse + e, count + n, inter + a, union + b
    out = {"mask_iou": inter / max(union, 1), "novel_view_psnr": psnr_of(sse, count), "views": len(test)}
    if test.gt is not None and test.gt.normals is not None:
        n, ncov = raster_normals(raster, mesh, test.cameras)
        both = (ncov > 0.5) & (np.asarray(test.masks) > 0.5)
        out["normal_mae"] = normal_mae(n, test.gt.normals, both)
    if gt_mesh is not None:
        out["chamfer"] = chamfer(mesh, gt_mesh)
    return out
