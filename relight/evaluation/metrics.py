"""Evaluation metrics: small pure functions of arrays (numpy), one place for all of them.

* **PSNR** (dB, peak 1) over mask pixels; **SSIM** (scikit-image) with the background zeroed.
* **channel_scale** — the least-squares per-channel factor that aligns a predicted albedo with the
  ground truth (albedo and light trade off by exactly such a factor).
* **mask IoU** — coverage > 0.5 in both / in either.
* **normal MAE** — mean angle (degrees) between predicted and ground-truth world-space shading
  normals over pixels covered in both.
* **noise-free MSE** — the squared error of two Monte Carlo renders less both renders' noise,
  each measured from a second render with other seeds: what the mean squared error of the
  converged renders would be, without rendering them (:func:`noise_free_mse`).
* **Chamfer** — ``n`` points sampled uniformly (by area) on each surface; the mean of the two
  directed mean point-to-*surface* distances, ``(mean_a d(a, B) + mean_b d(b, A)) / 2`` (exact
  point-triangle distances, so no point-sampling noise floor), divided by the **ground-truth
  bounding-box diagonal** (reported as a fraction; x100 for percent).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from skimage.metrics import structural_similarity
from trimesh.triangles import closest_point

from relight.data.mesh import Mesh, face_areas


def psnr(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB, peak 1) over pixels where ``mask`` (..., H, W) is true."""
    return psnr_of(*squared_error(pred, gt, mask))


def squared_error(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """(sum of squared differences, number of values) over pixels where ``mask`` is true: summed
    view by view, then given to :func:`psnr_of`, the PSNR of a set too large to hold at once."""
    m = mask.astype(bool)
    d = (pred[m] - gt[m]).astype(np.float64)
    return float(np.sum(d * d)), int(d.size)


def mse(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared difference over pixels where ``mask`` is true (0 when there are none, as
    :func:`psnr_of` counts an empty set)."""
    sse, count = squared_error(pred, gt, mask)
    return sse / count if count else 0.0


def psnr_of(sse: float, count: int) -> float:
    """PSNR (dB, peak 1) of a summed squared error over ``count`` values."""
    mse = sse / count if count else 0.0
    return float("inf") if mse == 0 else float(-10 * np.log10(mse))


NOISE_FREE_CAP_DB = 60.0
"""A noise-free PSNR is reported at most this: an estimate at or below an MSE of 1e-6 (including
a negative one, which the estimate's own spread allows when the renders differ only by noise)."""


def noise_free_mse(pred: np.ndarray, pred_twin: np.ndarray, ref: np.ndarray, ref_twin_a: np.ndarray,
                   ref_twin_b: np.ndarray, mask: np.ndarray) -> float:
    """The mean squared error of ``pred`` against ``ref`` as their converged renders would give it.

    All (..., H, W, C), in the metric's space (sRGB for relighting); ``mask`` (..., H, W).
    ``pred`` and ``pred_twin``: the asset rendered twice with other seeds; ``ref``: the reference
    (one Monte Carlo render of the true scene); ``ref_twin_a``, ``ref_twin_b``: the true scene
    rendered twice more at the reference's samples per pixel. With independent noise,
    ``E (pred - ref)^2 = (E pred - E ref)^2 + Var pred + Var ref``, and each variance is half the
    mean squared difference of its twins, so the returned value is an unbiased estimate of the
    first term's mean over the mask (it may come out slightly negative when that is ~0).
    Exact for linear values; in sRGB it is the error of the expected encoded values, which a
    converged render matches to within the encoding's curvature times the variance (measured:
    results/eval_noise.md).
    """
    return mse(pred, ref, mask) - mse(pred, pred_twin, mask) / 2 - mse(ref_twin_a, ref_twin_b, mask) / 2


def noise_free_psnr(mse: float) -> float:
    """PSNR (dB, peak 1) of a :func:`noise_free_mse`, capped at :data:`NOISE_FREE_CAP_DB`."""
    return float(-10 * np.log10(max(mse, 10 ** (-NOISE_FREE_CAP_DB / 10))))


def ssim(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM over views of (N, H, W, C) images with the background zeroed."""

    vals = []
    for p, g, m in zip(pred, gt, mask, strict=True):
        mm = m[..., None].astype(np.float32)
        vals.append(structural_similarity(p * mm, g * mm, channel_axis=-1, data_range=1.0,
                                          win_size=min(7, (min(p.shape[:2]) // 2) * 2 - 1)))
    return float(np.mean(vals))


def channel_scale(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Least-squares per-channel factor (C,) aligning ``pred`` to ``gt`` over ``mask``."""
    m = mask.astype(bool)
    p, g = pred[m], gt[m]
    return (p * g).sum(0) / np.maximum((p * p).sum(0), 1e-12)


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
    inter, union = overlap(pred, gt)
    return inter / max(union, 1)


def overlap(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int]:
    """(intersection, union) pixel counts of coverage maps (> 0.5), to sum view by view."""
    a, b = pred > 0.5, gt > 0.5
    return int((a & b).sum()), int((a | b).sum())
