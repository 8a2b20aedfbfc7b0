"""A lat-long envmap's brightest peak rendered as a sharp (directional) source.

A fitted envmap is coarse (64 × 32 texels of 5.6° in ``fast``): a sun, 0.5° wide, spread over a
texel and then bilinearly over its neighbours, casts shadows and a terminator ~10° soft. Where the
true shadow is dark the blurred sun still lights the surface, where it is lit it falls short, and
the fit's best answer is a weaker, wider sun, a brighter sky and the difference baked into the
albedo (results/README.md, session 23: with the GT materials of a sunlit capture, the 64-wide
area-resampled GT light draws a mean gradient that dims the sun and the sky; at 256 wide it draws
none). Splitting the peak off renders it as the point it most likely is, from the same texels:

* the **peak** is the texel of largest luminance; its 3 × 3 block (rows clamped, columns wrapped)
  is compared with the **level** of the ring of 16 texels around it (per-channel median);
* each block texel's radiance above that level (its *excess*) leaves the envmap and goes into one
  directional emitter: irradiance ``sum(excess * solid angle)`` (W m⁻², RGB), from the
  luminance-weighted centroid of the excess texels' directions;
* the envmap keeps the rest (the level where a texel exceeds it, the texel itself elsewhere).

Total energy is unchanged, so a soft light, whose peak hardly rises above its ring, renders as
before. The envmap file is not changed by any of this: the split is how the material stage renders
its own light (``MaterialConfig.sun``), not a second light in the asset.

Directions follow :data:`relight.data.images.ENVMAP_PROJECTION` as Mitsuba reads it through
:func:`relight.render.mitsuba.envmap_dict` (checked against Mitsuba's envmap in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LUMINANCE = np.array([0.2126, 0.7152, 0.0722], np.float32)
"""Rec. 709 luminance weights of linear RGB."""


def _row_theta(h: int) -> np.ndarray:
    """Polar angle of each row as Mitsuba's envmap reads it: its bilinear lookup puts the first
    and last rows' samples on the poles (``theta = pi * row / (h - 1)``; columns at
    ``(col + 0.5) / w``), measured against its ``eval`` in the tests."""
    return np.arange(h) / max(h - 1, 1) * np.pi


def texel_directions(h: int, w: int) -> np.ndarray:
    """(h, w, 3) unit directions towards the texel samples of an (h, w) lat-long map as Mitsuba
    renders it, world frame of an envmap turned by 0° (y up; the centre column looks along +x)."""
    theta = _row_theta(h)
    phi = 2 * np.pi * ((np.arange(w) + 0.5) / w - 0.5)
    st = np.sin(theta)[:, None]
    return np.stack([np.cos(phi)[None, :] * st, np.repeat(np.cos(theta)[:, None], w, 1),
                     np.sin(phi)[None, :] * st], -1).astype(np.float32)


def texel_solid_angles(h: int, w: int) -> np.ndarray:
    """(h, 1) solid angle (sr) each row's texels carry under Mitsuba's bilinear lookup: the
    integral of the row's hat function (one row spacing ``d`` either side) times ``sin(theta)``;
    the rows sum to 4 pi."""
    theta, d = _row_theta(h), np.pi / max(h - 1, 1)
    wt = np.sin(theta) * 2 * (1 - np.cos(d)) / d
    wt[[0, -1]] = (d - np.sin(d)) / d
    return ((2 * np.pi / w) * wt)[:, None].astype(np.float32)


@dataclass(frozen=True)
class SunBlock:
    """Where an envmap's peak is and how it splits (all detached from any gradient)."""

    texels: np.ndarray
    """(K,) flat indices ``row * w + col`` of the peak's block."""
    level: np.ndarray
    """(3,) the ring's per-channel median radiance: what the block keeps in the envmap."""
    excess: np.ndarray
    """(K, 3) bool: which block channels exceed the level (their excess goes to the sun)."""
    solid_angles: np.ndarray
    """(K,) solid angle of each block texel (sr)."""
    direction: np.ndarray
    """(3,) unit direction towards the sun, envmap turned by 0°."""


def sun_block(envmap: np.ndarray) -> SunBlock:
    """The split of ``envmap`` (H, W, 3) linear radiance (see the module docstring)."""
    h, w = envmap.shape[:2]
    lum = envmap[..., :3] @ LUMINANCE
    r0, c0 = np.unravel_index(int(np.argmax(lum)), lum.shape)

    def square(rad: int) -> tuple[np.ndarray, np.ndarray]:
        rr, cc = np.meshgrid(np.arange(r0 - rad, r0 + rad + 1), np.arange(c0 - rad, c0 + rad + 1), indexing="ij")
        keep = (rr >= 0) & (rr < h)
        return rr[keep], cc[keep] % w

    br, bc = square(1)
    rr, rc = square(2)
    in_block = np.isin(rr * w + rc, br * w + bc)
    level = np.median(envmap[rr[~in_block], rc[~in_block], :3], axis=0) if (~in_block).any() else np.zeros(3)
    vals = envmap[br, bc, :3]
    excess = vals > level[None, :]
    sa = texel_solid_angles(h, w)[br, 0]
    weight = (np.where(excess, vals - level, 0.0) @ LUMINANCE) * sa
    dirs = texel_directions(h, w)[br, bc]
    d = (weight[:, None] * dirs).sum(0) if weight.sum() > 0 else texel_directions(h, w)[r0, c0]
    return SunBlock((br * w + bc).astype(np.int64), level.astype(np.float32), excess, sa,
                    (d / np.linalg.norm(d)).astype(np.float32))


def split_sun(envmap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sky envmap (H, W, 3), sun irradiance (3,) W m⁻², unit direction towards the sun (3,)):
    ``envmap`` (H, W, 3) with its peak split off; the sky plus the sun carry the same energy."""
    blk = sun_block(envmap)
    flat = np.array(envmap[..., :3], np.float32).reshape(-1, 3)
    vals = flat[blk.texels]
    extra = np.where(blk.excess, vals - blk.level[None, :], 0.0)
    flat[blk.texels] = vals - extra
    irr = (extra * blk.solid_angles[:, None]).sum(0)
    return flat.reshape(envmap.shape[:2] + (3,)), irr.astype(np.float32), blk.direction


def rotate_y(direction: np.ndarray, deg: float) -> np.ndarray:
    """``direction`` turned about +y by ``deg`` (the same turn as the envmap's ``to_world``)."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    x, y, z = direction
    return np.array([c * x + s * z, y, -s * x + c * z], np.float32)


def sun_transform(mi, direction: np.ndarray, rotation_deg: float = 0.0):
    """``to_world`` of Mitsuba's directional emitter shining *from* ``direction`` (towards the sun,
    envmap frame) with the envmap turned by ``rotation_deg``: the emitter's local +z is the
    direction light travels."""
    d = rotate_y(np.asarray(direction, np.float32), rotation_deg)
    up = [0.0, 1.0, 0.0] if abs(d[1]) < 0.9 else [1.0, 0.0, 0.0]
    return mi.ScalarTransform4f().look_at(origin=[0.0, 0.0, 0.0], target=(-d).tolist(), up=up)


SUN_MIN_SHARE = 0.05
"""Least share of the emitter samples the sun gets (so a faint one still has a gradient)."""


def sampling_weights(sky: np.ndarray, irradiance: np.ndarray) -> tuple[float, float]:
    """(sky, sun) emitter-sampling weights in proportion to their energy (luminance of ``sum(L dOmega)``
    and of the irradiance: over a sphere's normals both average a quarter of it), the sun's at least
    :data:`SUN_MIN_SHARE`. Chosen by Mitsuba uniformly, a sun with a few percent of the samples of a
    dim sky left the render speckled (measured: 5.8x the squared error of the blurred sun's)."""
    e_sky = float((sky[..., :3] * texel_solid_angles(*sky.shape[:2])[..., None]).sum((0, 1)) @ LUMINANCE)
    e_sun = float(np.asarray(irradiance) @ LUMINANCE)
    total = max(e_sky + e_sun, 1e-12)
    return max(e_sky, 1e-12), max(e_sun, SUN_MIN_SHARE * total)


def sun_dict(mi, irradiance: np.ndarray, direction: np.ndarray, rotation_deg: float = 0.0,
             weight: float = 1.0) -> dict:
    """Mitsuba directional emitter of a split-off sun (``weight``: its emitter-sampling weight)."""
    return {"type": "directional", "to_world": sun_transform(mi, direction, rotation_deg),
            "irradiance": {"type": "rgb", "value": [float(x) for x in irradiance]},
            "sampling_weight": float(weight)}
