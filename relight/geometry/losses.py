"""Losses of the geometry stage: small pure functions of torch tensors (image layout, row 0 = top)."""

from __future__ import annotations

import torch


def silhouette_loss(coverage: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error of anti-aliased coverage (B, H, W) against mask coverage, both in [0, 1]."""
    return torch.mean((coverage - mask) ** 2)


def photometric_loss(rgb: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean L1 of (B, H, W, 3) sRGB-encoded colours (background black in both), each pixel's
    residual times ``weight`` (B, H, W) in [0, 1] when given (e.g. photo-consistency)."""
    res = torch.abs(rgb - target)
    return torch.mean(res if weight is None else res * weight[..., None])


def consistency_weights(err: torch.Tensor, obs: torch.Tensor, k: float) -> torch.Tensor:
    """(V,) photometric weight of each vertex from its colour residual across views.

    ``err`` (V,) and ``obs`` (V,): sums over observed pixels of the squared residual (sRGB, mean over
    channels) and of the pixel weights, so ``r = sqrt(err / obs)`` is the vertex's RMS residual
    against its view-independent colour. Weight ``1 / (1 + (r / (k m))^4)`` with ``m`` the lower
    quartile of ``r`` over the observed vertices: 1 where the colour is as consistent as on the
    best-explained quarter of the surface, 1/2 at ``k`` times that, falling fast beyond (a
    redescending weight on a robust scale). The quartile rather than the median, because
    view-dependent parts can cover half an object (the bottle's metal bands; a sphere half of
    which changes colour: residual 0.22 there, 0.017 elsewhere, median 0.077 in between).
    Unobserved vertices keep weight 1. ``k <= 0`` turns the weighting off (all ones).
    """
    seen = obs > 1e-6
    if k <= 0 or int(seen.sum()) < 16:
        return torch.ones_like(err)
    r = torch.sqrt(err.clamp_min(0) / obs.clamp_min(1e-6))
    m = torch.quantile(r[seen], 0.25).clamp_min(1e-6)
    return torch.where(seen, 1 / (1 + (r / (k * m)) ** 4), torch.ones_like(r))


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(V, 3) unit area-weighted vertex normals of ``verts`` (V, 3) and ``faces`` (F, 3) int,
    differentiable in the positions (counter-clockwise faces: outward on a closed mesh)."""
    f = faces.long()
    v0, v1, v2 = verts[f[:, 0]], verts[f[:, 1]], verts[f[:, 2]]
    fn = torch.cross(v1 - v0, v2 - v0, dim=1)
    acc = torch.zeros_like(verts).index_add(0, f[:, 0], fn).index_add(0, f[:, 1], fn).index_add(0, f[:, 2], fn)
    return acc / acc.norm(dim=1, keepdim=True).clamp_min(1e-20)


def sh_basis(n: torch.Tensor) -> torch.Tensor:
    """(..., 8) real spherical harmonics of bands 1 and 2 (unnormalized constants dropped:
    the coefficients absorb them) of unit directions ``n`` (..., 3), world axes. Band 0 is left
    out: a constant factor is the colour's, not the light's."""
    x, y, z = n.unbind(-1)
    return torch.stack([x, y, z, x * y, y * z, x * z, x * x - y * y, 3 * z * z - 1], -1)


def sh_shading(n: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """(..., 3) positive shading factor ``exp(Y(n) @ coeffs)`` of directions ``n`` (..., 3) (any
    length: normalized here) with ``coeffs`` (8, 3) per colour channel — a smooth, low-frequency
    function of the normal, as a distant light's diffuse irradiance is (Ramamoorthi and Hanrahan
    2001: bands 0-2 hold ~99 % of it). Applied to sRGB-encoded colour it stands for
    ``srgb(albedo * irradiance) = srgb(albedo) * irradiance ** (1 / 2.4)``, another such function."""
    u = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return torch.exp(sh_basis(u) @ coeffs)


def edge_tv(colors: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Total variation of the per-vertex ``colors`` (V, C) over the mesh ``edges`` (E, 2): the sum
    over edges of the channel-mean L1 difference. L1 keeps sharp material boundaries and
    penalizes the gradual changes shading would otherwise leave in a view-independent colour. A
    sum, so a caller divides it by what its data term averages over (pixels): then the prior's pull
    on a vertex against the data's does not depend on how many vertices or pixels there are."""
    return torch.sum(torch.abs(colors[edges[:, 0]] - colors[edges[:, 1]])) / colors.shape[1]
