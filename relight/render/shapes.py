"""Procedural meshes with natural UVs, for built-in scenes that must not ship scanned data."""

from __future__ import annotations

import numpy as np

from relight.data.mesh import Mesh


def grid_mesh(verts: np.ndarray, uvs: np.ndarray, flip: bool = False, normals: np.ndarray | None = None) -> Mesh:
    """A mesh of a (rows, cols, 3) vertex grid, two triangles per cell (winding reversed with
    ``flip``), without the zero-area triangles of collapsed rows (poles); ``uvs`` and ``normals``
    per vertex, flattened in the grid's order."""
    rows, cols = verts.shape[0] - 1, verts.shape[1] - 1
    m1 = cols + 1
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    a00, a10, a01, a11 = i * m1 + j, (i + 1) * m1 + j, i * m1 + j + 1, (i + 1) * m1 + j + 1
    tris = ([a00, a11, a10], [a00, a01, a11]) if flip else ([a00, a10, a11], [a00, a11, a01])
    faces = np.concatenate([np.stack(t, -1).reshape(-1, 3) for t in tris])
    v = verts.reshape(-1, 3)
    area = np.linalg.norm(np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]]), axis=1)
    return Mesh(v, faces[area > 1e-12], uvs, normals)


def tube(curve: np.ndarray, radius: float, n_around: int) -> Mesh:
    """A closed tube of ``radius`` around a closed polyline ``curve`` (N, 3).

    UVs: u runs along the curve, v around the tube; the seam vertices are duplicated so the
    UV square is covered once. Frames are parallel-transported (no twisting) and the residual
    holonomy is spread evenly along the curve so the tube closes.
    """
    n = len(curve)
    t = np.roll(curve, -1, 0) - np.roll(curve, 1, 0)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    a = np.array([0.0, 0.0, 1.0]) if abs(t[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    nrm = np.zeros_like(curve)
    nrm[0] = np.cross(t[0], a)
    nrm[0] /= np.linalg.norm(nrm[0])
    for i in range(1, n + 1):  # parallel transport, one extra step to measure the twist
        prev = nrm[(i - 1) % n] if i < n else nrm[n - 1]
        v = prev - np.dot(prev, t[i % n]) * t[i % n]
        v /= np.linalg.norm(v)
        if i < n:
            nrm[i] = v
        else:
            end = v
    b0 = np.cross(t[0], nrm[0])
    twist = np.arctan2(np.dot(end, b0), np.dot(end, nrm[0]))
    ang = -twist * np.arange(n) / n
    bin_ = np.cross(t, nrm)
    nrm, bin_ = (nrm * np.cos(ang)[:, None] + bin_ * np.sin(ang)[:, None],
                 -nrm * np.sin(ang)[:, None] + bin_ * np.cos(ang)[:, None])
    idx_c = np.arange(n + 1) % n
    phi = 2 * np.pi * np.arange(n_around + 1) / n_around
    ring = np.cos(phi)[None, :, None] * nrm[idx_c][:, None] + np.sin(phi)[None, :, None] * bin_[idx_c][:, None]
    verts = curve[idx_c][:, None] + radius * ring  # (n+1, m+1, 3)
    uu, vv = np.meshgrid(np.arange(n + 1) / n, np.arange(n_around + 1) / n_around, indexing="ij")
    uvs = np.stack([uu, vv], -1).reshape(-1, 2)
    return grid_mesh(verts, uvs, flip=True, normals=ring.reshape(-1, 3))


def torus_knot(p: int = 2, q: int = 3, tube_radius: float = 0.28, segments: int = 256,
               n_around: int = 32) -> Mesh:
    """A (p, q) torus knot tube: concavities and self-shadowing, UVs along and around it."""
    s = 2 * np.pi * np.arange(segments) / segments
    r = 2.0 + np.cos(q * s)
    curve = np.stack([r * np.cos(p * s), -np.sin(q * s), r * np.sin(p * s)], -1) / 3.0
    return tube(curve, tube_radius, n_around)


def blob(n_lat: int = 96, n_lon: int = 192, dent: float = 0.32) -> Mesh:
    """A sphere with smooth bumps and deep dents (concavities, self-shadowing), lat-long UVs.

    Radius ``1 + dent * f(direction)`` with ``f`` a fixed sum of low-frequency products of
    sines; the UV seam column is duplicated (u = 0 and u = 1), poles are single-row fans.
    """
    theta = np.linspace(0, np.pi, n_lat + 1)
    phi = np.linspace(0, 2 * np.pi, n_lon + 1)
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    d = np.stack([np.sin(th) * np.sin(ph), np.cos(th), np.sin(th) * np.cos(ph)], -1)
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    f = (0.6 * np.sin(3 * x + 1.0) * np.sin(2 * y + 0.5) + 0.5 * np.sin(4 * z - 0.3) * np.cos(3 * x)
         + 0.4 * np.cos(5 * y + 2 * z))
    f = np.minimum(f, 0.35) - 0.15 * np.maximum(f - 0.35, 0)  # flatten the bumps, keep the dents deep
    verts = d * (1 + dent * f)[..., None]
    uvs = np.stack([ph / (2 * np.pi), 1 - th / np.pi], -1).reshape(-1, 2)
    return grid_mesh(verts, uvs)


def lathe(profile: np.ndarray, n_around: int = 160, n_along: int = 128) -> Mesh:
    """A closed surface of revolution about +y from a profile polyline ``profile`` (K, 2) of
    (radius, height) control points running from the bottom pole (radius 0) to the top pole.

    The profile is resampled to ``n_along`` rows evenly spaced in arc length (a monotone cubic,
    PCHIP, through the control points: no overshoot at the shoulders). UVs: u runs along the
    profile (so ``stripes`` textures make horizontal bands), v around the axis; the seam column is
    duplicated, the poles are single-row fans.
    """
    from scipy.interpolate import PchipInterpolator

    seg = np.linalg.norm(np.diff(profile, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)]) / seg.sum()
    curve = PchipInterpolator(s, profile, axis=0)
    dense = curve(np.linspace(0, 1, 4096))
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))])
    t = np.interp(np.linspace(0, arc[-1], n_along + 1), arc, np.linspace(0, 1, 4096))
    rad, hgt = curve(t).T
    rad = np.maximum(rad, 0.0)
    rad[0] = rad[-1] = 0.0
    phi = np.linspace(0, 2 * np.pi, n_around + 1)
    verts = np.stack([rad[:, None] * np.sin(phi)[None], np.broadcast_to(hgt[:, None], (n_along + 1, n_around + 1)),
                      rad[:, None] * np.cos(phi)[None]], -1)
    uu, vv = np.meshgrid(np.linspace(0, 1, n_along + 1), phi / (2 * np.pi), indexing="ij")
    uvs = np.stack([uu, vv], -1).reshape(-1, 2)
    return grid_mesh(verts, uvs, flip=True)


def vase() -> Mesh:
    """A lidded ceramic jar: flat foot, round belly, narrow neck, flared lip and a domed lid."""
    return lathe(np.array([[0.0, -1.0], [0.42, -1.0], [0.5, -0.9], [0.78, -0.35], [0.72, 0.1], [0.34, 0.5],
                           [0.3, 0.62], [0.42, 0.72], [0.4, 0.78], [0.25, 0.86], [0.0, 0.9]]))


def bottle() -> Mesh:
    """A bottle: cylindrical body, rounded shoulder, long neck and a wider screw cap."""
    return lathe(np.array([[0.0, -1.0], [0.46, -1.0], [0.5, -0.94], [0.5, 0.05], [0.42, 0.3], [0.2, 0.48],
                           [0.17, 0.6], [0.17, 0.72], [0.22, 0.74], [0.22, 0.96], [0.18, 1.0], [0.0, 1.0]]))


BUILTIN_SHAPES = {"torus_knot": torus_knot, "blob": blob, "vase": vase, "bottle": bottle}
