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

from relight.material.losses import latlong_weights


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


def _sparse(n_out: int, n_in: int, wrap: bool):
    """:func:`upsample_matrix` as a sparse matrix (two taps a row: textures of 1024² and more)."""
    import scipy.sparse as sp

    return sp.csr_matrix(upsample_matrix(n_out, n_in, wrap))


def _separable(x: np.ndarray, my, mx) -> np.ndarray:
    """``my @ x @ mx.T`` applied to each channel of ``x`` (h, w, C), float32."""
    h, w, c = x.shape
    rows = (my @ x.reshape(h, w * c)).reshape(my.shape[0], w, c)
    cols = mx @ rows.transpose(1, 0, 2).reshape(w, my.shape[0] * c)
    return np.ascontiguousarray(cols.reshape(mx.shape[0], my.shape[0], c).transpose(1, 0, 2), dtype=np.float32)


def upsample(x: np.ndarray, shape: tuple[int, int], wrap_rows: bool = False) -> np.ndarray:
    """``x`` (h, w, C) bilinearly resampled to ``shape`` (H, W), float32: columns wrap (azimuth),
    rows are clamped (elevation) unless ``wrap_rows`` (a UV texture, :mod:`relight.material.albedo`)."""
    return _separable(x, _sparse(shape[0], x.shape[0], wrap_rows), _sparse(shape[1], x.shape[1], True))


def upsample_adjoint(g: np.ndarray, shape: tuple[int, int], wrap_rows: bool = False) -> np.ndarray:
    """The transpose of :func:`upsample` applied to a fine gradient ``g`` (H, W, C): the gradient
    with respect to the coarse map of shape ``shape`` (h, w)."""
    return _separable(g, _sparse(g.shape[0], shape[0], wrap_rows).T, _sparse(g.shape[1], shape[1], True).T)


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


COMPACT_SHARE = 0.01
"""The share of the sphere whose power :func:`concentration` measures for ``env_compact_width``:
1 % (a cone of 11.5 degrees half-angle) is about 3 texels of the 32-wide light that the pilot
fits (``fast``)."""


def concentration(envmap: np.ndarray, share: float = COMPACT_SHARE) -> float:
    """Share of the power of a lat-long light ``envmap`` (h, w, 3, linear radiance) that arrives
    from its brightest directions covering ``share`` of the sphere (0-1; texels ranked by mean
    radiance, weighted by their solid angle; a texel straddling the boundary counts in part).

    A sun or a studio's softboxes put about half the power into 1 % of the sphere: at 32 wide the
    sunlit ``quarry_01`` 0.55, ``royal_esplanade`` 0.53, ``studio`` 0.44, ``interior`` 0.41; an
    overcast or indoor sky a tenth to a quarter (``courtyard`` 0.12, ``forest`` 0.20, ``city``
    0.28), a sunset behind clouds 0.03."""
    solid = latlong_weights(*envmap.shape[:2]).astype(np.float64).ravel()
    lum = np.asarray(envmap, np.float64)[..., :3].mean(-1).ravel()
    power = lum * solid
    if power.sum() <= 0:
        return 0.0
    order = np.argsort(-lum, kind="stable")
    area = np.concatenate([[0.0], np.cumsum(solid[order])])
    cum = np.concatenate([[0.0], np.cumsum(power[order])]) / power.sum()
    return float(np.interp(share, area, cum))
