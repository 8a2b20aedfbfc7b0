"""Losses of the geometry stage: small pure functions of torch tensors (image layout, row 0 = top)."""

from __future__ import annotations

import torch


def silhouette_loss(coverage: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error of anti-aliased coverage (B, H, W) against mask coverage, both in [0, 1]."""
    return torch.mean((coverage - mask) ** 2)


def photometric_loss(rgb: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 of (B, H, W, 3) sRGB-encoded colours (background black in both)."""
    return torch.mean(torch.abs(rgb - target))
