"""Drawing a per-vertex-coloured mesh through a raster context: the geometry stage's renderer."""

from __future__ import annotations

import torch

from relight.geometry.raster import Raster, flip_y


def render_views(raster: Raster, verts: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor,
                 mvps: torch.Tensor, res: tuple[int, int], supersample: int = 1,
                 topology: object = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Anti-aliased (B, H, W, C) attributes and (B, H, W) coverage, image layout (row 0 = top).

    ``verts`` (V, 3) world, ``colors`` (V, C) per-vertex attributes (sRGB colour, C = 3, plus any
    extra channels a caller interpolates with it), ``mvps`` (B, 4, 4) world -> clip (OpenGL; clip
    space does not depend on the resolution). ``supersample`` k > 1 rasterizes at (kH, kW) and
    box-averages k x k blocks: the pixel's area coverage, as a box-filtered photo's alpha is,
    which the analytic antialiasing alone only approximates. ``topology`` is
    ``raster.construct_topology_hash(faces)`` when the caller keeps one (built here otherwise).
    """
    hom = torch.cat([verts, torch.ones_like(verts[:, :1])], 1)
    pos = torch.einsum("vk,bjk->bvj", hom, mvps).contiguous()
    k = int(supersample)
    rast, _ = raster.rasterize(pos, faces, (res[0] * k, res[1] * k))
    # coverage as one more attribute, 1 at every vertex: interpolated, it is 1 on covered pixels
    # (to rounding) and 0 on the background, without concatenating full-resolution images
    ones = torch.ones_like(colors[:, :1])
    out = raster.antialias(raster.interpolate(torch.cat([colors, ones], 1), rast, faces)[0], rast, pos, faces,
                           topology)
    if k > 1:  # box-average k x k blocks, then flip: the same blocks (kH, kW divide evenly)
        b, hk, wk, c = out.shape
        out = out.view(b, hk // k, k, wk * c).sum(2).view(b, hk // k, wk // k, k, c).sum(3) / k**2
    out = flip_y(out)
    return out[..., :-1], out[..., -1]
