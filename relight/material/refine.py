"""Albedo refinement under a fixed light: multiplicative (ratio) updates in texture space.

After the Adam phase of the material stage the light and roughness are close, but texels that
few pixels see, and see dimly (spot's udder faces the ground), have per-step gradients far
below the Monte Carlo noise and stop short of their value. Here every training view is
rendered with the current asset and each texel's albedo is scaled by the least-squares ratio of
observed to rendered radiance over all pixels that see it (per RGB channel)::

    a_t <- a_t * sum_p K_pt w_p I_obs,p I_p  /  sum_p K_pt w_p I_p I'_p

``K_pt`` is the bilinear weight of texel ``t`` at pixel ``p``'s surface point (ray cast at the
pixel centre), ``w_p`` the relative weight of :func:`relight.material.losses.relative_weight` (so dim and
bright pixels count alike), and ``I_p, I'_p`` two renders with independent samples (so the
denominator is unbiased under Monte Carlo noise: E[I I'] = E[I]^2). This is the multiplicative
update of non-negative least squares (Lee & Seung): radiance is linear in a diffuse albedo, so
one pass solves the single-bounce diffuse part exactly; specular light and inter-reflections make
it converge in a few passes, and its fixed point is the rendering that matches the images. Unlike
a gradient step, its size does not depend on how bright or how often a texel is seen.

Only pixels fully inside the object (mask coverage = 1 and a hit at the pixel centre) take part,
so silhouette pixels, where a pixel mixes surface and background, do not bias the ratio.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import gaussian_filter

from relight.data.asset import Asset
from relight.data.capture import Capture
from relight.material.losses import relative_weight
from relight.render.mitsuba import KA, build_scene, pixel_uv, sensor, turn_light
from relight.render.textures import bilinear_taps
from relight.runtime.backend import Backend
from relight.runtime.progress import Reporter


@dataclass(frozen=True)
class RefineStats:
    """Per pass: median |ratio - 1| over the texels seen (how much the pass still changed)."""

    change: list[float]
    seconds: float


def splat_bilinear(uv: np.ndarray, values: np.ndarray, h: int, w: int) -> np.ndarray:
    """Adjoint of :func:`relight.render.textures.sample_bilinear`: scatter ``values`` (N, C) at OBJ-convention
    ``uv`` (N, 2) into an (h, w, C) texture with the same weights and repeat wrapping."""
    out = np.zeros((h * w, values.shape[1]), np.float64)
    for (rows, cols), k in bilinear_taps(uv, h, w):
        idx = rows * w + cols
        for ch in range(values.shape[1]):
            out[:, ch] += np.bincount(idx, weights=values[:, ch] * k[:, 0], minlength=h * w)
    return out.reshape(h, w, values.shape[1])


def pool_by_material(albedo: np.ndarray, sums: list[np.ndarray], radius: float, colour_sigma: float) -> list[np.ndarray]:
    """Joint-bilateral pooling of per-texel sums (each (H, W, C)) over a Gaussian neighbourhood of
    ``radius`` texels (sigma), weighted by how alike the neighbours' albedo is (Gaussian in the
    linear-RGB distance, sigma ``colour_sigma``): a texel's ratio is estimated from its own
    material only, so the correction is smoothed without crossing albedo edges."""
    h, w = albedo.shape[:2]
    r = int(np.ceil(2 * radius))
    out = [np.zeros_like(x, dtype=np.float64) for x in sums]
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            ws = np.exp(-(dx * dx + dy * dy) / (2 * radius * radius))
            if ws < 1e-3:
                continue
            nb = np.roll(albedo, (dy, dx), axis=(0, 1))
            wgt = ws * np.exp(-((nb - albedo) ** 2).sum(-1, keepdims=True) / (2 * colour_sigma ** 2))
            for o, x in zip(out, sums, strict=True):
                o += wgt * np.roll(x, (dy, dx), axis=(0, 1))
    return out


def ratio_update(albedo: np.ndarray, num: np.ndarray, den: np.ndarray, damping: float = 0.05,
                 blur: float = 1.0, colour_sigma: float = 0.0, max_ratio: float = 4.0) -> tuple[np.ndarray, float]:
    """One multiplicative step: ``albedo * (num + d) / (den + d)``, clipped to [0, 1].

    ``blur`` (texels) pools the sums over neighbours before the ratio: Gaussian, or with
    ``colour_sigma > 0`` only over neighbours of similar albedo (:func:`pool_by_material`). The
    ratio -- a correction -- is smoothed, not the albedo, so the albedo's edges stay sharp.
    ``d = damping * median(den over seen texels)`` keeps texels seen by few or dim pixels near
    their current value instead of trusting a ratio of two tiny sums; texels never seen
    (``den == 0``) keep their value exactly. The ratio is limited to [1/max_ratio, max_ratio].
    Returns the new albedo and the median |ratio - 1| over the seen texels."""
    if blur > 0 and colour_sigma > 0:
        num, den = pool_by_material(albedo, [num, den], blur, colour_sigma)
    elif blur > 0:

        num = gaussian_filter(num, (blur, blur, 0), mode="wrap")
        den = gaussian_filter(den, (blur, blur, 0), mode="wrap")
    seen = den > 0
    if not seen.any():
        return albedo.copy(), 0.0
    d = damping * float(np.median(den[seen]))
    with np.errstate(invalid="ignore", divide="ignore"):  # unseen texels (0/0) are masked out
        ratio = np.where(seen, (np.maximum(num, 0.0) + d) / (den + d), 1.0)
    ratio = np.clip(ratio, 1.0 / max_ratio, max_ratio)
    out = np.clip(albedo * ratio, 0.0, 1.0).astype(np.float32)
    return out, float(np.median(np.abs(ratio[seen] - 1.0)))


def refine_albedo(capture: Capture, asset: Asset, backend: Backend, *, passes: int = 3, spp: int = 32,
                  max_depth: int = 3, damping: float = 0.05, blur: float = 1.0, colour_sigma: float = 0.0,
                  seed: int = 0,
                  reporter: Reporter | None = None,
                  check_stop: Callable[[], None] | None = None) -> tuple[Asset, RefineStats]:
    """``passes`` ratio updates of ``asset``'s albedo against every view of ``capture``; the result
    is the mean of the albedos after the last ``passes - passes // 2`` passes (each pass's ratio
    carries Monte Carlo noise, which the mean halves while the first passes do the moving).

    Args:
        capture: training views (linear HDR, premultiplied, masks).
        asset: mesh with UVs, textures and the (fixed) envmap; its albedo is the start.
        spp: samples per pixel of each view per pass, split between the two independent renders.
        max_depth: path length of the renders (as in the material stage).
        damping, blur, colour_sigma: see :func:`ratio_update`.
        check_stop: called between views; it may raise to interrupt (Ctrl-C).
    Returns:
        the asset with the refined albedo, and the per-pass change.
    """

    import drjit as dr  # only once the backend has pinned libLLVM (relight.runtime.backend)

    mi = backend.mitsuba()
    rep = reporter or Reporter()
    t0 = time.perf_counter()
    scene = build_scene(backend, asset, max_depth, integrator="path")
    params = mi.traverse(scene)
    h, w = asset.albedo.shape[:2]
    half = max(1, spp // 2)
    obs = []  # per view: (uv of the inside pixels, their flat indices, their relative weights)
    for i, cam in enumerate(capture.cameras):
        uv, hit = pixel_uv(backend, scene, cam)
        inside = (hit > 0) & (capture.masks[i] >= 0.999)
        idx = np.flatnonzero(inside).astype(np.int32)
        wgt = relative_weight(capture.images[i], capture.masks[i])[..., 0].ravel()[idx]
        obs.append((uv.reshape(-1, 2)[idx], idx, wgt.astype(np.float32)))
    albedo, change, kept = asset.albedo.astype(np.float32), [], []
    with rep.task("albedo refinement", passes * len(capture)) as advance:
        for k in range(passes):
            params[KA] = mi.TensorXf(np.ascontiguousarray(albedo))
            params.update()
            num = np.zeros((h, w, 3))
            den = np.zeros((h, w, 3))
            turns = capture.light_deg(asset.envmap_rotation_deg)
            for i, (uv, idx, wgt) in enumerate(obs):
                if turns is not None:  # a turntable capture: this view's light
                    turn_light(backend, params, turns[i])
                s = 2 * (seed + k * len(obs) + i)
                # a sensor made per view and dropped: one kept per view would keep its film's buffers
                cam = sensor(backend, capture.cameras[i], half, pixel_format="rgb")
                r1 = np.array(mi.render(scene, params, sensor=cam, spp=half, seed=s), np.float32)
                r2 = np.array(mi.render(scene, params, sensor=cam, spp=half, seed=s + 1), np.float32)
                del cam
                r1, r2 = r1.reshape(-1, 3)[idx], r2.reshape(-1, 3)[idx]
                target = capture.images[i].reshape(-1, 3)[idx]
                both = splat_bilinear(uv, wgt[:, None] * np.concatenate([target * 0.5 * (r1 + r2), r1 * r2], 1), h, w)
                num += both[..., :3]
                den += both[..., 3:]
                advance(1)
                if check_stop is not None:
                    check_stop()
            albedo, c = ratio_update(albedo, num, den, damping, blur, colour_sigma)
            change.append(c)
            if k >= passes // 2:
                kept.append(albedo)
    dr.sync_thread()
    out = np.mean(kept, axis=0).astype(np.float32) if kept else albedo
    return replace(asset, albedo=out), RefineStats(change, time.perf_counter() - t0)
