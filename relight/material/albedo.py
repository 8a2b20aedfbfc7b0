"""The fitted albedo as one texture, or a coarse texture plus a finer, sparse residual.

``albedo`` (h, w, 3) is the texture the stage has always fitted (``tex_res``; roughness and
metallic share its resolution). With ``albedo_detail_res`` set, a second parameter
``albedo_detail`` (H, W, 3), finer, holds linear albedo *added* to ``albedo`` bilinearly
upsampled to (H, W): the albedo rendered is ``clip(up(albedo) + albedo_detail, 0, 1)``. The coarse
texture keeps the default's per-texel statistics (one of its texels gathers the gradient of a
block of fine ones, so Monte Carlo noise averages as before), while the residual, shrunk towards
zero after every step (:func:`shrink`, ``albedo_detail_shrink``), takes only what the data insist
on: the sharp edges a coarse texel spreads over two pixels (the knot's checker), not the noise
of smooth regions. The albedo's priors (TV, palette) act on the sum, their gradients split like
the image loss's (:func:`split_gradient`): on the coarse texture alone they left the residual free
to take noise and shading (the blob without shrink: 25.6 dB albedo with the palette on the
coarse texture, 26.8 with both priors on the sum). This is the light's split
(:mod:`relight.material.light`) applied to a UV texture.

Layout: rows from v = 1 down (Mitsuba's texture layout), both axes wrapping as Mitsuba's
bitmap lookup does; the upsampling samples the coarse texture bilinearly at the fine texel centres.
"""

from __future__ import annotations

import numpy as np

from relight.data.images import resize_area
from relight.material.light import upsample, upsample_adjoint

DETAIL = "albedo_detail"


def upsample_texture(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``x`` (h, w, C) bilinearly resampled to ``shape`` (H, W), both axes wrapping; float32."""
    return upsample(x, shape, wrap_rows=True)


def upsample_texture_adjoint(g: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The transpose of :func:`upsample_texture` applied to a fine gradient ``g`` (H, W, C): the
    gradient with respect to the coarse texture of shape ``shape`` (h, w)."""
    return upsample_adjoint(g, shape, wrap_rows=True)


def albedo_of(p: dict[str, np.ndarray]) -> np.ndarray:
    """The albedo (H, W, 3) rendered for parameters ``p``, linear in [0, 1]: ``albedo``, or the
    upsampled sum with ``albedo_detail`` (clipped) when there is one."""
    if DETAIL not in p:
        return p["albedo"]
    d = p[DETAIL]
    return np.clip(upsample_texture(p["albedo"], d.shape[:2]) + d, 0.0, 1.0)


def split_gradient(g: np.ndarray, p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The gradient ``g`` with respect to :func:`albedo_of`'s output, as gradients with respect to
    ``albedo`` (and ``albedo_detail``, which receives ``g`` itself). The clip is treated as the
    identity: :func:`project_detail` keeps the sum inside [0, 1] after every step."""
    if DETAIL not in p:
        return {"albedo": g}
    return {"albedo": upsample_texture_adjoint(g, p["albedo"].shape[:2]), DETAIL: g}


def project_detail(p: dict[str, np.ndarray]) -> None:
    """Clip ``albedo_detail`` in place so that the sum it makes with the upsampled coarse albedo
    (itself in [0, 1]) stays in [0, 1]; no-op without a residual."""
    if DETAIL in p:
        up = upsample_texture(p["albedo"], p[DETAIL].shape[:2])
        np.clip(p[DETAIL], -up, 1.0 - up, out=p[DETAIL])


def resolve_into(p: dict[str, np.ndarray], albedo: np.ndarray) -> None:
    """Set the parameters so that they render ``albedo`` (H, W, 3) (:func:`albedo_of`): the coarse
    texture becomes its area mean, the residual what the upsampled mean misses. Used after a
    re-solve of :mod:`relight.material.refine`, so its correction reaches both bands (keeping the
    old residual and correcting only the coarse band measured 21.13 vs 21.30 dB albedo on the
    knot, one run each: within the spread)."""
    if DETAIL not in p:
        p["albedo"] = np.ascontiguousarray(albedo, dtype=np.float32)
        return
    h, w = p["albedo"].shape[:2]
    p["albedo"] = np.clip(resize_area(albedo, h, w), 0.0, 1.0).astype(np.float32)
    p[DETAIL] = (albedo - upsample_texture(p["albedo"], albedo.shape[:2])).astype(np.float32)
    project_detail(p)


def shrink(x: np.ndarray, threshold: float) -> None:
    """Soft-threshold ``x`` in place: ``sign(x) * max(|x| - threshold, 0)`` (the proximal step of
    ``threshold * |x|``, an L1 prior applied after each optimizer step rather than through it).

    Under Adam an L1 *gradient* fails for a residual: Adam divides each texel's step by its
    gradient's RMS, so where Monte Carlo noise dominates the gradient, a prior weaker than the
    noise barely moves the texel, which random-walks by ~0.2 ``lr`` a step (with the prior as
    a gradient the blob's smooth albedo fell from 27.7 to 25.2 dB; results/README.md, session
    28). A texel whose gradient keeps one sign steps ~``lr`` a step, one whose gradient is noise
    ~0.2 ``lr`` (EMA of zero-mean noise over its RMS): a threshold between the two keeps the
    second at zero and lets the first move."""
    np.copyto(x, np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0))
