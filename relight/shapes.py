"""Procedural meshes with natural UVs, for built-in scenes that must not ship scanned data."""

from __future__ import annotations

import numpy as np

from relight.mesh import Mesh


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
    m1 = n_around + 1
    i, j = np.meshgrid(np.arange(n), np.arange(n_around), indexing="ij")
    a00, a10, a01, a11 = i * m1 + j, (i + 1) * m1 + j, i * m1 + j + 1, (i + 1) * m1 + j + 1
    faces = np.concatenate([np.stack([a00, a11, a10], -1).reshape(-1, 3),
                            np.stack([a00, a01, a11], -1).reshape(-1, 3)])
    return Mesh(verts.reshape(-1, 3), faces, uvs, ring.reshape(-1, 3))


def torus_knot(p: int = 2, q: int = 3, tube_radius: float = 0.28, segments: int = 256,
               n_around: int = 32) -> Mesh:
    """A (p, q) torus knot tube: concavities and self-shadowing, UVs along and around it."""
    s = 2 * np.pi * np.arange(segments) / segments
    r = 2.0 + np.cos(q * s)
    curve = np.stack([r * np.cos(p * s), -np.sin(q * s), r * np.sin(p * s)], -1) / 3.0
    return tube(curve, tube_radius, n_around)


BUILTIN_SHAPES = {"torus_knot": torus_knot}
