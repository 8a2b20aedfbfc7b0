"""Differentiable rasterization with one interface and two backends.

The geometry stage needs three ops, with **nvdiffrast's signatures, layouts and conventions**:

* ``rasterize(pos, tri, resolution) -> (rast, None)`` — ``pos`` (B, V, 4) float32 clip-space
  vertex positions (OpenGL clip space, :meth:`relight.data.camera.Camera.mvp`), ``tri`` (T, 3) int32,
  ``resolution`` (H, W). ``rast`` (B, H, W, 4) holds per pixel ``(u, v, z/w, triangle_id + 1)``
  with perspective-correct barycentrics ``u, v`` (the point is ``u p0 + v p1 + (1-u-v) p2``),
  NDC depth, and 0 in all four channels where no triangle covers the pixel centre. Row 0 is
  NDC ``y = -1`` (the **bottom** of the picture, OpenGL's convention): use :func:`flip_y` to
  compare with images stored top row first. ``u, v, z`` are differentiable w.r.t. ``pos``.
* ``interpolate(attr, rast, tri) -> (out, None)`` — ``attr`` (B, V, C) or (V, C) per-vertex
  attributes, ``out`` (B, H, W, C), zero on the background; differentiable w.r.t. both.
* ``antialias(color, rast, pos, tri, topology_hash=None) -> color`` — analytic anti-aliasing of
  silhouette edges (B, H, W, C): the colours of pixel pairs straddling a silhouette edge are
  blended by how far the edge lies from the pixel centres, which gives gradients w.r.t. ``pos``
  at silhouettes (where rasterization alone has none). ``topology_hash`` comes from
  ``construct_topology_hash(tri)`` (nvdiffrast's ``antialias_construct_topology_hash``): the
  mesh's edge structure, built once per topology by the caller instead of at every call.

Backends: :class:`CpuRaster` (own PyTorch code, any device torch supports) and
:class:`NvdiffrastRaster` (``diffrp-nvdiffrast``, CUDA). Pick one with :func:`make_raster`; the
context is passed to whoever rasterizes, never global.
"""

from __future__ import annotations

from typing import Protocol

import torch

from relight.geometry.raster.cpu import CpuRaster
from relight.geometry.raster.nvdr import NvdiffrastRaster, nvdiffrast_available

__all__ = ["CpuRaster", "NvdiffrastRaster", "Raster", "flip_y", "make_raster", "nvdiffrast_available"]


class Raster(Protocol):
    """A raster context (see the module docstring for the op contract)."""

    name: str
    """Backend name recorded in outputs (``cpu`` or ``nvdiffrast``)."""
    device: torch.device
    """Where its tensors live: the caller puts positions, triangles and attributes there."""

    def rasterize(self, pos: torch.Tensor, tri: torch.Tensor, resolution) -> tuple[torch.Tensor, None]: ...

    def interpolate(self, attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> tuple[torch.Tensor, None]: ...

    def construct_topology_hash(self, tri: torch.Tensor) -> object: ...

    def antialias(self, color: torch.Tensor, rast: torch.Tensor, pos: torch.Tensor, tri: torch.Tensor,
                  topology_hash: object = None) -> torch.Tensor: ...


def make_raster(device: str = "cpu") -> Raster:
    """The raster context for a torch device: nvdiffrast on ``cuda``, the CPU backend otherwise."""
    if device.startswith("cuda"):
        return NvdiffrastRaster(device)
    return CpuRaster(device)


def flip_y(img: torch.Tensor) -> torch.Tensor:
    """(B, H, W, C) raster layout (row 0 = bottom) <-> image layout (row 0 = top)."""
    return torch.flip(img, dims=[1])
