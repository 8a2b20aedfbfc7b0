"""Diagnostic: the relighting ceiling of a reconstructed mesh.

Usage: .venv/bin/python bench/bench_mesh_ceiling.py ASSET|gt [--capture out/bench/spot_256_64]
       [--tex-res 512] [--spp 128]

Gives the asset's mesh (with its UVs) *perfect* materials and light: every texel's surface point
is moved to the nearest point of the GT mesh (1.5 M samples of its surface, k-d tree) and takes the
GT albedo and roughness there; the envmap is the GT one. The relight PSNR of that asset is what any
material stage could reach on this geometry, so ``fit`` figures below it are the material stage's
share and the rest is the geometry's. To judge a geometry setting, run ``relight fit`` with it
(e.g. ``smooth_final`` in a geometry TOML) and pass the result here. ``gt`` instead of an asset evaluates the GT
asset with its albedo area-downsampled to ``--tex-res``: the ceiling of a texture of that size on
the GT mesh and UVs. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np


def texel_points(mesh, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, n, 3) surface point of each texel centre of ``mesh``'s atlas and (n, n) bool covered."""
    uv, f, v = mesh.uvs, mesh.faces, mesh.vertices
    ys, xs = np.mgrid[0:n, 0:n]
    tu, tv = (xs + 0.5) / n, 1 - (ys + 0.5) / n
    pts, hit = np.zeros((n, n, 3)), np.zeros((n, n), bool)
    for t in range(len(f)):
        a, b, c = uv[f[t]]
        x0, x1 = int(max(0, min(a[0], b[0], c[0]) * n - 1)), int(min(n, max(a[0], b[0], c[0]) * n + 2))
        y0, y1 = int(max(0, (1 - max(a[1], b[1], c[1])) * n - 1)), int(min(n, (1 - min(a[1], b[1], c[1])) * n + 2))
        m = np.array([[b[0] - a[0], c[0] - a[0]], [b[1] - a[1], c[1] - a[1]]])
        if x1 <= x0 or y1 <= y0 or abs(np.linalg.det(m)) < 1e-14:
            continue
        px, py = tu[y0:y1, x0:x1], tv[y0:y1, x0:x1]
        l1, l2 = np.linalg.solve(m, np.stack([px.ravel() - a[0], py.ravel() - a[1]]))
        inside = ((1 - l1 - l2) >= -1e-3) & (l1 >= -1e-3) & (l2 >= -1e-3)
        p3 = (1 - l1 - l2)[:, None] * v[f[t, 0]] + l1[:, None] * v[f[t, 1]] + l2[:, None] * v[f[t, 2]]
        sub, hs = pts[y0:y1, x0:x1].reshape(-1, 3), hit[y0:y1, x0:x1].reshape(-1)
        sub[inside], hs[inside] = p3[inside], True
        pts[y0:y1, x0:x1], hit[y0:y1, x0:x1] = sub.reshape(y1 - y0, x1 - x0, 3), hs.reshape(y1 - y0, x1 - x0)
    return pts, hit


def fill_gutters(covered: np.ndarray, *textures: np.ndarray) -> list[np.ndarray]:
    """The ``textures`` (each (H, W[, C])) with every texel outside ``covered`` (H, W) bool set
    from the nearest covered texel (gutter dilation; one distance transform for all)."""
    from scipy.ndimage import distance_transform_edt

    iy, ix = distance_transform_edt(~covered, return_distances=False, return_indices=True)
    return [np.ascontiguousarray(t[iy, ix]) for t in textures]


def nearest_surface(mesh, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``points`` (N, 3), the nearest of 1.5 M surface samples of ``mesh`` (trimesh's
    exact closest point needs rtree, which is not installed): (N,) distance, (N,) face and (N, 3)
    barycentric coordinates in that face."""
    import trimesh
    from scipy.spatial import cKDTree

    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    samples, face = trimesh.sample.sample_surface(tm, 1_500_000, seed=0)
    dist, j = cKDTree(samples).query(points, workers=-1)
    return dist, face[j], trimesh.triangles.points_to_barycentric(tm.triangles[face[j]], samples[j])


def oracle_asset(fit, gt, n: int):
    """``fit`` (an Asset whose mesh has UVs) with GT materials at the nearest GT surface point of
    every texel and the GT light; also the (texels,) texel-to-GT distances."""

    from relight.render.textures import sample_bilinear

    mesh = fit.mesh
    pts, hit = texel_points(mesh, n)
    dist, face, bary = nearest_surface(gt.mesh, pts[hit])
    suv = (bary[:, :, None] * gt.mesh.uvs[gt.mesh.faces[face]]).sum(1)
    albedo, rough = np.zeros((n, n, 3), np.float32), np.zeros((n, n), np.float32)
    albedo[hit], rough[hit] = sample_bilinear(gt.albedo, suv), sample_bilinear(gt.roughness, suv)[:, 0]
    metal = None
    if gt.metallic is not None:  # a metallic object's oracle has its metal too
        metal = np.zeros((n, n), np.float32)
        metal[hit] = sample_bilinear(gt.metallic, suv)[:, 0]
        albedo, rough, metal = fill_gutters(hit, albedo, rough, metal)
    else:
        albedo, rough = fill_gutters(hit, albedo, rough)
    oracle = replace(fit, mesh=mesh, albedo=albedo, roughness=rough, metallic=metal, envmap=gt.envmap,
                     envmap_rotation_deg=gt.envmap_rotation_deg)
    return oracle, dist


def main() -> None:
    from relight.data.asset import load_asset
    from relight.data.capture_io import load_capture
    from relight.evaluation.evaluate import evaluate
    from relight.runtime.backend import select_backend

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("asset")
    ap.add_argument("--capture", default="out/bench/spot_256_64")
    ap.add_argument("--tex-res", type=int, default=512)
    ap.add_argument("--spp", type=int, default=128)
    a = ap.parse_args()
    backend = select_backend("auto")
    gt = load_asset(Path(a.capture) / "gt")
    test = load_capture(a.capture, "test")
    if a.asset == "gt":
        from relight.data.images import resize_area

        ev = evaluate(replace(gt, albedo=resize_area(gt.albedo, a.tex_res, a.tex_res)), test, backend, spp=a.spp)
        print(json.dumps({"asset": "gt", "tex_res": a.tex_res, "albedo_psnr": ev.albedo_psnr}))
        return
    fit = load_asset(a.asset)
    oracle, dist = oracle_asset(fit, gt, a.tex_res)
    ev = evaluate(oracle, test, backend, spp=a.spp)
    print(json.dumps({"asset": a.asset, "tex_res": a.tex_res, "median_texel_to_gt": float(np.median(dist)),
                      "albedo_psnr": ev.albedo_psnr, "relight_psnr_mean": ev.relight_psnr_mean,
                      "relight_psnr": ev.relight_psnr, "novel_view_psnr": ev.novel_view_psnr, "mask_iou": ev.mask_iou}))


if __name__ == "__main__":
    main()
