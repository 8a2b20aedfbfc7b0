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
