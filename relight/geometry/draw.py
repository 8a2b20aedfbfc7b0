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
    col, _ = raster.interpolate(colors, rast, faces)
    cov = (rast[..., 3:4] > 0).to(col.dtype)
    out = flip_y(raster.antialias(torch.cat([col, cov], -1), rast, pos, faces, topology))
    if k > 1:
        out = torch.nn.functional.avg_pool2d(out.permute(0, 3, 1, 2), k).permute(0, 2, 3, 1)
    return out[..., :-1], out[..., -1]
