"""The fitted light as two parameters: a coarse log envmap and an optional finer residual.

``log_env`` (h, w, 3) is the light the stage has always fitted (``env_width`` wide). With
``env_detail_width`` set, a second parameter ``env_detail`` (H, W, 3), finer, holds log radiance
*added* to ``log_env`` bilinearly upsampled to (H, W): the light rendered is
``exp(up(log_env) + env_detail)``. Each has its own Adam state and step size, so the coarse light
keeps the statistics of the 64-wide default (one texel's gradient sums a block of fine ones)
while the residual is free to take a sun that a coarse texel would spread over ~11 degrees.

Lat-long layout: rows from the zenith (+y) down, columns wrap around in azimuth; the upsampling
samples the coarse map bilinearly at the fine texel centres (columns wrapping, rows clamped),
as Mitsuba's envmap lookup does.
"""

from __future__ import annotations

import numpy as np


def upsample_matrix(n_out: int, n_in: int, wrap: bool) -> np.ndarray:
    """(n_out, n_in) bilinear interpolation at the centres of ``n_out`` texels of a ``n_in``-texel
    axis spanning the same interval; ``wrap``: periodic (azimuth), else clamped (elevation)."""
    x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    j = np.floor(x).astype(int)
    t = x - j
    m = np.zeros((n_out, n_in))
    for idx, wt in ((j, 1 - t), (j + 1, t)):
        idx = idx % n_in if wrap else np.clip(idx, 0, n_in - 1)
        np.add.at(m, (np.arange(n_out), idx), wt)
    return m


def upsample(log_env: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``log_env`` (h, w, C) bilinearly resampled to ``shape`` (H, W), float32."""
    uy = upsample_matrix(shape[0], log_env.shape[0], wrap=False)
    ux = upsample_matrix(shape[1], log_env.shape[1], wrap=True)
    return np.einsum("Yy,yxc,Xx->YXc", uy, log_env, ux, optimize=True).astype(np.float32)


def upsample_adjoint(g: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The transpose of :func:`upsample` applied to a fine gradient ``g`` (H, W, C): the gradient
    with respect to the coarse map of shape ``shape`` (h, w)."""
    uy = upsample_matrix(g.shape[0], shape[0], wrap=False)
    ux = upsample_matrix(g.shape[1], shape[1], wrap=True)
    return np.einsum("Yy,YXc,Xx->yxc", uy, g, ux, optimize=True).astype(np.float32)


def light_log(p: dict[str, np.ndarray]) -> np.ndarray:
    """The log radiance (H, W, 3) rendered for parameters ``p``: ``log_env``, plus the upsampled
    sum with ``env_detail`` when there is one."""
    if "env_detail" not in p:
        return p["log_env"]
    d = p["env_detail"]
    return upsample(p["log_env"], d.shape[:2]) + d


def split_gradient(g: np.ndarray, p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The gradient ``g`` with respect to :func:`light_log`'s output, as gradients with respect to
    ``log_env`` (and ``env_detail``, which receives ``g`` itself)."""
    if "env_detail" not in p:
        return {"log_env": g}
    return {"log_env": upsample_adjoint(g, p["log_env"].shape[:2]), "env_detail": g}
