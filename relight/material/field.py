"""A seam-free parametrization of a mesh's textures: values on a 3D grid over the surface.

An atlas cuts the surface into charts; the two sides of a seam are far apart in the texture, so
each side is fitted from the pixels that happen to sample it and the seam shows. Here each texel
(covered, or in a gutter, which takes its nearest covered texel) is the trilinear interpolation
of the values at the 8 corners of the grid cell around its surface point, ``texture = A @
values``; texels on both sides of a seam that lie at one surface point share their corners. The
gradient of a loss with respect to the texture pulls back as ``A.T @ grad`` (:meth:`pull`), so
an optimizer can step on the grid and write the texture (:meth:`bake`) for the renderer.

Cells are ``cell`` texel widths wide (a texel's world size is estimated from the surface area
per covered texel), so the grid resolves about what the texture does. Surfaces closer than a
cell (a thin sheet's two sides) share values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from relight.data.mesh import Mesh


def texel_points(mesh: Mesh, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, n, 3) surface point of each texel centre of ``mesh``'s atlas (row 0 = v = 1, as
    Mitsuba samples) and (n, n) bool covered."""
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


@dataclass(frozen=True)
class SurfaceField:
    """``texture (res, res, C) = (A @ values (corners, C)).reshape``; see the module docstring."""

    matrix: sp.csr_matrix
    """(res * res, corners) trilinear weights; each row sums to 1."""
    res: int
    cell: float
    """Grid spacing in world units."""
    covered: np.ndarray
    """(texels,) flat indices of the texels the atlas covers (the others copy their nearest)."""

    @property
    def corners(self) -> int:
        return self.matrix.shape[1]

    def bake(self, values: np.ndarray) -> np.ndarray:
        """The (res, res, C) float32 texture of grid ``values`` (corners, C)."""
        return np.ascontiguousarray((self.matrix @ values).reshape(self.res, self.res, -1), dtype=np.float32)

    def pull(self, grad: np.ndarray) -> np.ndarray:
        """(corners, C) gradient with respect to the values of a (res, res, C) texture gradient."""
        return np.ascontiguousarray(self.matrix.T @ grad.reshape(self.res * self.res, -1), dtype=np.float32)

    def project(self, texture: np.ndarray) -> np.ndarray:
        """Grid values from a (res, res, C) texture: each corner the weighted mean of the covered
        texels that use it (exact for a constant texture, and for texels whose corners no other texel
        uses — with cells under a texel wide, all but those near a seam)."""
        a = self.matrix[self.covered]  # a gutter's value is free data, not the surface's
        flat = texture.reshape(self.res * self.res, -1)[self.covered].astype(np.float64)
        w = np.asarray(a.sum(0)).ravel()[:, None]
        return (a.T @ flat / np.maximum(w, 1e-12)).astype(np.float32)


def build_field(mesh: Mesh, res: int, cell: float = 1.0) -> SurfaceField:
    """The :class:`SurfaceField` of ``mesh``'s atlas at texture size ``res`` with cells ``cell``
    texel widths wide."""
    from scipy.ndimage import distance_transform_edt

    pts, hit = texel_points(mesh, res)
    tri = mesh.vertices[mesh.faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    h = cell * float(np.sqrt(area / max(int(hit.sum()), 1)))
    p = pts[hit] / h
    base = np.floor(p).astype(np.int64)
    fr = p - base
    keys, weights = [], []
    for d in np.ndindex(2, 2, 2):
        d = np.array(d)
        keys.append(base + d)
        weights.append(np.prod(np.where(d, fr, 1 - fr), axis=1))
    keys, weights = np.stack(keys, 1).reshape(-1, 3), np.stack(weights, 1).ravel()
    _, col = np.unique(keys, axis=0, return_inverse=True)
    n_cov = int(hit.sum())
    a_cov = sp.csr_matrix((weights, (np.repeat(np.arange(n_cov), 8), col.ravel())), shape=(n_cov, int(col.max()) + 1))
    # every texel takes its nearest covered texel's row: gutters are sampled at chart edges
    order = np.full(hit.shape, -1, np.int64)
    order[hit] = np.arange(n_cov)
    iy, ix = distance_transform_edt(~hit, return_distances=False, return_indices=True)
    return SurfaceField(a_cov[order[iy, ix].ravel()].tocsr(), res, h, np.flatnonzero(hit))
