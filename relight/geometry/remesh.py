"""Mesh resolution and smoothing for the geometry stage: isotropic remeshing (gpytoolbox's
Botsch–Kobbelt remesher), midpoint subdivision and Taubin smoothing (trimesh).

Marching cubes leaves slivers and uneven valences, and a mesh optimized with the *uniform*
Laplacian of Large Steps keeps whatever irregularity it starts with (the uniform Laplacian treats
every neighbour alike, so uneven edge lengths become uneven smoothing). Between coarse-to-fine
levels the mesh is rebuilt with near-equilateral triangles of a target edge length tied to the
level's pixel size, so the resolution follows the image resolution (the remeshing of "Large
Steps", Nicolet et al. 2021, §5). The remesher splits, collapses, flips and relaxes edges and
projects onto the input surface; it keeps a closed manifold closed, which :func:`remesh` checks
(and falls back to the input otherwise).
"""

from __future__ import annotations

import gpytoolbox
import numpy as np
import trimesh
from scipy.spatial import cKDTree

from relight.data.mesh import smooth_normals, weld


def remesh(verts: np.ndarray, faces: np.ndarray, colors: np.ndarray, edge: float,
           iterations: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Isotropic remesh to target edge length ``edge`` (world units); per-vertex ``colors``
    (V, C) are carried over from the nearest old vertex. Returns the input unchanged when the
    result would not be a closed, consistently wound manifold (never seen, but cheap to check)."""

    v2, f2 = gpytoolbox.remesh_botsch(verts.astype(np.float64), faces.astype(np.int32), i=iterations,
                                      h=float(edge), project=True)
    tm = trimesh.Trimesh(v2, f2, process=False)
    if len(f2) < 4 or not (tm.is_watertight and tm.is_winding_consistent) or tm.volume <= 0:
        return verts, faces, colors
    _, nn = cKDTree(verts).query(v2)
    return v2.astype(np.float32), f2.astype(np.int32), colors[nn].astype(np.float32)


def taubin(verts: np.ndarray, faces: np.ndarray, iterations: int) -> np.ndarray:
    """Vertices after ``iterations`` of Taubin smoothing (lambda 0.5, mu -0.53: little shrinkage,
    ~2 % of a sphere's volume after 5 iterations)."""
    if iterations <= 0:
        return verts

    t = trimesh.Trimesh(verts, faces, process=False)
    trimesh.smoothing.filter_taubin(t, lamb=0.5, nu=-0.53, iterations=iterations)
    return np.asarray(t.vertices, dtype=np.float32)


def shading_normals(verts: np.ndarray, faces: np.ndarray, iterations: int) -> np.ndarray:
    """(V, 3) unit vertex normals of a copy of the mesh smoothed by ``iterations`` of
    :func:`taubin`; the positions themselves are not moved. Vertices an atlas split along its
    seams are smoothed as one (:func:`relight.data.mesh.weld`). 0 = the mesh's own smooth normals.

    A refined mesh's surface ripples at the scale of its edges (the raster fit moves each vertex by
    its own pixels' gradients); smoothing the positions would remove the ripple but also thin ears,
    horns and silhouettes (``smooth_final``), while smoothing only the shading normals leaves the
    outline where the silhouettes put it."""
    if iterations <= 0:
        return smooth_normals(verts, faces)
    first, inv = weld(verts)
    wf = inv[faces]
    return smooth_normals(taubin(np.asarray(verts)[first], wf, iterations), wf)[inv]


def subdivide(mesh_v: np.ndarray, faces: np.ndarray, colors: np.ndarray):
    """Midpoint subdivision (each face into 4), colours averaged at new vertices."""

    v, f, attr = trimesh.remesh.subdivide(mesh_v, faces, vertex_attributes={"c": colors})
    return v.astype(np.float32), f.astype(np.int32), attr["c"].astype(np.float32)
