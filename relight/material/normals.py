"""Shading-normal refinement in the material stage (:attr:`MaterialConfig.fit_normals`).

A reconstructed surface is off by a few degrees here and there; its shading is then off, and
without a parameter of its own that error is baked into the albedo (on spot's reconstructed
mesh the albedo's flat regions reach 29.3 dB against 33.5 dB on the GT mesh,
``results/levers.md``). The material stage can refine one shading normal per surface point:

* **Per welded vertex.** An unwrapped mesh duplicates its vertices along UV seams; the copies
  share one normal parameter (:func:`weld`), so shading stays continuous across seams and there
  is no tangent frame to agree on (a normal map would need both). The result is the mesh's
  vertex normals, which every export format carries.
* **Smoothed gradient.** A vertex's path-traced gradient is mostly Monte Carlo noise (on a 32²
  test scene its direction agrees with the true correction by cos ≈ 0.06); the gradient is
  preconditioned by ``(I + λ L)^-1`` over the welded mesh graph (:func:`smooth`, the solve of
  Large Steps, :mod:`relight.geometry.largesteps`), so neighbouring vertices move together and
  the noise averages out over ~sqrt(λ) rings.
* **Trust region.** A refined normal stays within ``max_normal_deg`` of the geometry's own
  (:func:`cone_project`): the positions are not refined, so the shading may not drift far from
  the surface it belongs to.
"""

from __future__ import annotations

import numpy as np

from relight.data.mesh import Mesh, smooth_normals


def weld(mesh: Mesh) -> tuple[np.ndarray, int]:
    """(V,) index of each vertex's welded vertex (copies at one position, to 1e-6, share one, as in
    :func:`relight.data.mesh.smooth_normals`) and the number of welded vertices."""
    _, inverse = np.unique(np.round(mesh.vertices.astype(np.float64), 6), axis=0, return_inverse=True)
    inverse = inverse.ravel().astype(np.int64)
    return inverse, int(inverse.max()) + 1 if len(inverse) else 0


def welded_normals(mesh: Mesh) -> np.ndarray:
    """(Vw, 3) unit normals of the welded mesh, so both sides of a UV seam agree: the mean of the
    mesh's own normals over each point's copies, or (without normals) smooth normals
    area-weighted over all faces at the point."""
    inverse, n = weld(mesh)
    if mesh.normals is not None:
        acc = np.zeros((n, 3), np.float64)
        np.add.at(acc, inverse, mesh.normals)
        return (acc / np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    out = np.zeros((n, 3), np.float32)
    out[inverse] = smooth_normals(mesh.vertices, mesh.faces)  # equal over copies already
    return out


def expand(normals_w: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """(V, 3) unit per-vertex normals from welded ones (V_w, 3)."""
    n = normals_w[inverse]
    return (n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def cone_project(n: np.ndarray, n0: np.ndarray, max_deg: float) -> np.ndarray:
    """Unit vectors ``n`` (V, 3) normalized and, where farther than ``max_deg`` from the unit
    ``n0`` (V, 3), moved onto that cone's boundary in the plane of ``n`` and ``n0``."""
    n = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    cos_max = np.cos(np.radians(max_deg))
    c = (n * n0).sum(1, keepdims=True)
    out = c < cos_max
    if out.any():
        t = n - c * n0
        norm = np.linalg.norm(t, axis=1, keepdims=True)
        t = np.where(norm > 1e-9, t / np.maximum(norm, 1e-12), 0.0)
        n = np.where(out, cos_max * n0 + np.sqrt(1 - cos_max ** 2) * t, n)
        n /= np.linalg.norm(n, axis=1, keepdims=True)
    return n.astype(np.float32)


class NormalSmoother:
    """``g -> (I + λ L)^-1 g`` on the welded mesh graph (Cholesky-factored once), with the part of
    ``g`` along each normal removed first (it would only change the normal's length)."""

    def __init__(self, mesh: Mesh, lam: float):
        from relight.geometry.largesteps import LaplacianSolver

        inverse, n = weld(mesh)
        self.lam = lam
        self.solver = LaplacianSolver(inverse[mesh.faces], n, lam) if lam > 0 else None

    def __call__(self, g: np.ndarray, normals: np.ndarray) -> np.ndarray:
        import torch

        g = g - (g * normals).sum(1, keepdims=True) * normals
        if self.solver is None:
            return g.astype(np.float32)
        return self.solver.solve(torch.from_numpy(np.ascontiguousarray(g, dtype=np.float32))).numpy()
