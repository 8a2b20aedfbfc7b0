"""CPU raster backend: nvdiffrast's rasterize / interpolate / antialias in plain PyTorch.

Every op works on all views of a batch at once (pixels indexed ``b H W + j W + i``, triangles
``b T + t``): a geometry step draws 4 views of 512² (256² supersampled), and per-view loops of
small tensor ops cost more than the arithmetic (``bench/bench_geometry_step.py``).

* **Visibility** (not differentiable, as in nvdiffrast) is a vectorized scan-conversion: every
  triangle's pixel bounding box is enumerated, its barycentrics and depth are planes over the
  box (set up in double precision, evaluated in float32 relative to the box corner, so the error
  does not grow with the image size: about 1e-7 of a barycentric; pixel centres within 1e-6 of
  an edge count as inside both triangles, so shared edges leave no gaps), and a single
  ``scatter_reduce(amin)`` over a packed ``(depth, triangle)`` key keeps the nearest triangle
  per pixel. Work is chunked so memory stays bounded.
* **Barycentrics** of the visible triangle are then recomputed with differentiable torch ops
  from the clip-space positions (perspective-correct: ``a = dx × dy`` with
  ``dx_i = x_i - p_x w_i``, ``dy_i = y_i - p_y w_i``), so ``u, v, z`` carry gradients to ``pos``.
* **Antialias** follows nvdiffrast's analytic scheme: for each horizontally or vertically
  adjacent pixel pair with different triangle ids, the nearer pixel's triangle is tested; if the
  segment between the two pixel centres leaves it through a *silhouette* edge (a boundary edge,
  or one whose two faces face opposite ways in this view), the crossing point ``t`` in [0, 1]
  blends the colours: the pixel whose half contains the edge takes ``|t - 1/2|`` of the other's
  colour. ``t`` is a differentiable function of the vertex positions. As in nvdiffrast, an edge
  is handled by horizontal pairs when it runs more vertically than horizontally and by vertical
  pairs otherwise (never both: a slanted edge would be blended, and its gradient counted, twice).

Triangles with a vertex behind the camera (``w <= 0``) are dropped rather than clipped; relight's
cameras always see the whole object in front of the near plane.
"""

from __future__ import annotations

import torch

_DEPTH_LEVELS = 2**31 - 1


class CpuRaster:
    """Raster context of the CPU backend (see the package docstring for the op contract)."""

    name = "cpu"

    def __init__(self, device: str = "cpu", max_pairs: int = 1 << 23):
        self.device = torch.device(device)
        self.max_pairs = max_pairs
        """Upper bound of (triangle, pixel) candidate pairs processed at once (memory bound)."""

    # -- rasterize ---------------------------------------------------------------------------
    def rasterize(self, pos: torch.Tensor, tri: torch.Tensor, resolution) -> tuple[torch.Tensor, None]:
        h, w = int(resolution[0]), int(resolution[1])
        tri_l = tri.long()
        with torch.no_grad():
            tid = self._visible(pos.detach(), tri_l, h, w)
        return self._rast(pos, tri_l, tid, h, w), None

    def _visible(self, pos: torch.Tensor, tri: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """(B, H, W) int64 index of the nearest triangle covering each pixel centre, -1 if none.

        Each triangle's barycentrics and depth are affine in screen space: they are written as
        planes over its pixel bounding box (double precision, the corner value evaluated
        directly; evaluated in float32, see the module docstring), and every (triangle, pixel of its
        box) pair evaluates three of them."""
        bsz = pos.shape[0]
        pw = pos[..., 3]
        ok_v = pw > 1e-8
        inv = 1.0 / torch.where(ok_v, pw, torch.ones_like(pw))
        sx = (pos[..., 0] * inv + 1) * 0.5 * w - 0.5  # pixel i has its centre at sx = i
        sy = (pos[..., 1] * inv + 1) * 0.5 * h - 0.5  # row j = 0 at NDC y = -1 (bottom)
        sz = pos[..., 2] * inv
        x, y, z = sx[:, tri].double(), sy[:, tri].double(), sz[:, tri].double()  # (B, T, 3)
        area = (x[..., 1] - x[..., 0]) * (y[..., 2] - y[..., 0]) - (x[..., 2] - x[..., 0]) * (y[..., 1] - y[..., 0])
        x0 = torch.ceil(x.min(-1).values).clamp(min=0)
        x1 = torch.floor(x.max(-1).values).clamp(max=w - 1)
        y0 = torch.ceil(y.min(-1).values).clamp(min=0)
        y1 = torch.floor(y.max(-1).values).clamp(max=h - 1)
        bw, bh = (x1 - x0 + 1).long(), (y1 - y0 + 1).long()
        keep = ok_v[:, tri].all(-1) & (bw > 0) & (bh > 0) & (area.abs() > 1e-12)
        bb, tt = keep.nonzero(as_tuple=True)
        x, y, z, area, x0, y0 = x[bb, tt], y[bb, tt], z[bb, tt], area[bb, tt], x0[bb, tt], y0[bb, tt]

        def bary(i, j):  # corner i's barycentric as a plane (d/dx, d/dy, value at the box corner)
            return ((y[:, i] - y[:, j]) / area, (x[:, j] - x[:, i]) / area,
                    ((x[:, i] - x0) * (y[:, j] - y0) - (x[:, j] - x0) * (y[:, i] - y0)) / area)

        p0, p1 = bary(1, 2), bary(2, 0)
        dz0, dz1 = z[:, 0] - z[:, 2], z[:, 1] - z[:, 2]
        pz = [p0[k] * dz0 + p1[k] * dz1 for k in range(3)]
        pz[2] = pz[2] + z[:, 2]
        planes = torch.stack([*p0, *p1, *pz]).float()  # (9, K)
        ints = torch.stack([bw[bb, tt], (bb * h + y0.long()) * w + x0.long(), tt]).int()  # (3, K)
        cnt = bw[bb, tt] * bh[bb, tt]
        best = torch.full((bsz * h * w,), torch.iinfo(torch.int64).max, dtype=torch.int64, device=pos.device)
        csum = torch.cumsum(cnt, 0)
        start = 0
        while start < len(cnt):
            base = int(csum[start - 1]) if start else 0
            stop = int(torch.searchsorted(csum, torch.tensor(base + self.max_pairs, device=csum.device),
                                          right=True))
            stop = max(stop, start + 1)
            self._scan(planes[:, start:stop], ints[:, start:stop], cnt[start:stop], w, best)
            start = stop
        tid = torch.where(best == torch.iinfo(torch.int64).max, -1, best & 0xFFFFFFFF)
        return tid.view(bsz, h, w)

    @staticmethod
    def _scan(planes, ints, n, w, best) -> None:
        """Depth-test the pixels of a run of triangles' boxes into ``best`` (packed depth, id)."""
        k = torch.repeat_interleave(torch.arange(len(n), device=n.device), n)
        first = torch.cumsum(n, 0) - n
        off = (torch.arange(int(n.sum()), device=n.device) - first[k]).int()
        g = [r.index_select(0, k) for r in planes]  # one 1-D gather per plane coefficient
        gi = [r.index_select(0, k) for r in ints]
        row = torch.div(off, gi[0], rounding_mode="floor")
        col = off - row * gi[0]
        px, py = col.float(), row.float()
        b0 = g[0] * px + g[1] * py + g[2]
        b1 = g[3] * px + g[4] * py + g[5]
        zz = g[6] * px + g[7] * py + g[8]
        eps = -1e-6
        inside = ((b0 >= eps) & (b1 >= eps) & (1 - b0 - b1 >= eps) & (zz >= -1) & (zz <= 1)).nonzero().squeeze(1)
        q = ((zz[inside] + 1) * 0.5 * _DEPTH_LEVELS).long().clamp(0, _DEPTH_LEVELS)
        key = (q << 32) | gi[2][inside].long()
        pix = gi[1][inside].long() + row[inside] * w + col[inside]
        best.scatter_reduce_(0, pix, key, reduce="amin")

    @staticmethod
    def _rast(pos, tri, tid, h, w) -> torch.Tensor:
        """Differentiable (B, H, W, 4) ``(u, v, z/w, id + 1)`` for the visible triangles (all views
        at once: each covered pixel gathers its triangle's three clip-space corners)."""
        bsz, nv = pos.shape[0], pos.shape[1]
        flat = tid.reshape(-1)
        pix = (flat >= 0).nonzero().squeeze(1)
        t = flat[pix]
        b, p = torch.div(pix, h * w, rounding_mode="floor"), pix % (h * w)
        j, i = torch.div(p, w, rounding_mode="floor"), p % w
        ndc_x = (2 * (i.to(pos.dtype) + 0.5) / w - 1)[:, None]
        ndc_y = (2 * (j.to(pos.dtype) + 0.5) / h - 1)[:, None]
        corner = (tri[t] + (b * nv)[:, None]).reshape(-1)
        v = pos.reshape(-1, 4).index_select(0, corner).view(-1, 3, 4)  # (N, 3, 4)
        dx = v[..., 0] - ndc_x * v[..., 3]
        dy = v[..., 1] - ndc_y * v[..., 3]
        a = torch.stack([dx[:, 1] * dy[:, 2] - dx[:, 2] * dy[:, 1],
                         dx[:, 2] * dy[:, 0] - dx[:, 0] * dy[:, 2],
                         dx[:, 0] * dy[:, 1] - dx[:, 1] * dy[:, 0]], 1)
        s = a.sum(1)
        zw = (a * v[..., 2]).sum(1) / (a * v[..., 3]).sum(1)
        vals = torch.stack([a[:, 0] / s, a[:, 1] / s, zw, (t + 1).to(pos.dtype)], 1)
        img = torch.zeros(bsz * h * w, 4, dtype=pos.dtype, device=pos.device).index_copy(0, pix, vals)
        return img.view(bsz, h, w, 4)

    # -- interpolate ---------------------------------------------------------------------------
    def interpolate(self, attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> tuple[torch.Tensor, None]:
        bsz, h, w, _ = rast.shape
        c = attr.shape[-1]
        r = rast.reshape(-1, 4)
        pix = (r[:, 3].detach() > 0).nonzero().squeeze(1)
        rp = r.index_select(0, pix)
        corner = tri.long()[rp[:, 3].detach().long() - 1]  # (N, 3) vertex ids
        if attr.dim() == 3:  # per-view attributes: offset into the (B * V, C) rows
            b = torch.div(pix, h * w, rounding_mode="floor")
            corner = corner + (b * attr.shape[1])[:, None]
        a = attr.reshape(-1, c).index_select(0, corner.reshape(-1)).view(-1, 3, c)  # (N, 3, C)
        u, v = rp[:, 0:1], rp[:, 1:2]
        vals = u * a[:, 0] + v * a[:, 1] + (1 - u - v) * a[:, 2]
        out = torch.zeros(bsz * h * w, c, dtype=vals.dtype, device=vals.device).index_copy(0, pix, vals)
        return out.view(bsz, h, w, c), None

    # -- antialias -------------------------------------------------------------------------------
    def construct_topology_hash(self, tri: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The mesh's edge table for :meth:`antialias` (nvdiffrast's topology hash): (T, 3) index
        of the undirected edge opposite each corner, and the edge count."""
        return _edge_table(tri.long())

    def antialias(self, color: torch.Tensor, rast: torch.Tensor, pos: torch.Tensor, tri: torch.Tensor,
                  topology_hash: tuple[torch.Tensor, int] | None = None) -> torch.Tensor:
        bsz, h, w, c = color.shape
        tri_l = tri.long()
        edge_of, n_edges = topology_hash if topology_hash is not None else self.construct_topology_hash(tri)
        tid = rast[..., 3].detach().long() - 1
        depth = torch.where(tid >= 0, rast[..., 2].detach(), torch.full_like(rast[..., 2], float("inf")))
        sx = (pos[..., 0] / pos[..., 3] + 1) * 0.5 * w - 0.5
        sy = (pos[..., 1] / pos[..., 3] + 1) * 0.5 * h - 0.5
        scr = torch.stack([sx, sy], -1)[:, tri_l]  # (B, T, 3, 2) differentiable
        e1, e2 = scr[:, :, 1] - scr[:, :, 0], scr[:, :, 2] - scr[:, :, 0]
        orient = torch.sign(e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]).detach()  # (B, T)
        sil = _silhouette_edges(edge_of, orient, n_edges)  # (B, E)
        view = _Views(tid, depth, scr.reshape(-1, 3, 2), orient.reshape(-1), edge_of, sil, w)
        col = color.reshape(-1, c)
        po, pn, t = (torch.cat(x) for x in zip(*(_blend_pairs(view, axis) for axis in (0, 1)), strict=True))
        c_on = col.index_select(0, torch.cat([po, pn]))  # one gather (and one scatter backward)
        dc = c_on[len(po):] - c_on[:len(po)]  # the other pixel's colour minus the occluding one's
        far = (t >= 0.5)[:, None]  # the edge lies in the half of the pixel pair nearer to pn
        wn = torch.where(far, t[:, None] - 0.5, 0.0).to(col.dtype)
        wo = torch.where(far, 0.0, 0.5 - t[:, None]).to(col.dtype)
        return col.index_add(0, torch.cat([pn, po]), torch.cat([-wn * dc, wo * dc])).view(bsz, h, w, c)


def _edge_table(tri: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(T, 3) index of the undirected edge opposite each triangle corner, and the edge count."""
    a = tri[:, [1, 2, 0]]
    bb = tri[:, [2, 0, 1]]
    key = torch.minimum(a, bb) * (int(tri.max()) + 1) + torch.maximum(a, bb)
    uniq, inv = torch.unique(key.reshape(-1), return_inverse=True)
    return inv.view(-1, 3), len(uniq)


def _silhouette_edges(edge_of: torch.Tensor, orient: torch.Tensor, n_edges: int) -> torch.Tensor:
    """(B, E) bool per view: boundary edges, or edges whose faces face opposite ways in that view
    (``orient`` (B, T): the sign of each triangle's screen-space area)."""
    bsz = orient.shape[0]
    e = edge_of.reshape(-1)
    cnt = torch.zeros(n_edges, dtype=torch.long, device=e.device).index_add_(0, e, torch.ones_like(e))
    front = (orient > 0).repeat_interleave(3, dim=1).long()  # (B, 3T), in edge_of's order
    nfront = torch.zeros(bsz, n_edges, dtype=torch.long, device=e.device).index_add_(1, e, front)
    return (cnt == 1) | ((nfront > 0) & (nfront < cnt))


class _Views:
    """What :func:`_blend_pairs` needs of all views, flattened: pixel index ``b H W + j W + i``,
    triangle index ``b T + t``."""

    def __init__(self, tid, depth, scr, orient, edge_of, sil, w):
        bsz, h, _ = tid.shape
        base = (torch.arange(bsz, device=tid.device) * edge_of.shape[0]).view(-1, 1, 1)
        self.tri_of = torch.where(tid >= 0, tid + base, -1)  # (B, H, W) flattened triangle index, -1 background
        self.depth, self.scr, self.orient, self.w, self.h = depth, scr, orient, w, h
        self.edge_sil = sil.gather(1, edge_of.reshape(1, -1).expand(bsz, -1)).view(-1, 3)  # (B T, 3)
        self.has_sil = self.edge_sil.any(1)  # triangles with a silhouette edge in their view


def _blend_pairs(vw: _Views, axis: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pixel pairs of one direction (axis 0: horizontal pairs (i, i + 1), 1: vertical pairs
    (j, j + 1)) that a silhouette edge crosses: the nearer pixel's index, the other's, and where
    the edge crosses the segment from the first centre to the second (``t`` in [0, 1],
    differentiable)."""
    tri_of, depth, w = vw.tri_of, vw.depth, vw.w
    if axis == 0:
        ta, tb, za, zb = tri_of[:, :, :-1], tri_of[:, :, 1:], depth[:, :, :-1], depth[:, :, 1:]
    else:
        ta, tb, za, zb = tri_of[:, :-1, :], tri_of[:, 1:, :], depth[:, :-1, :], depth[:, 1:, :]
    a_front = za <= zb
    t_o = torch.where(a_front, ta, tb)
    # only a triangle with a silhouette edge can blend (a pair whose nearer triangle has none is
    # left alone below anyway): most pairs inside a fine mesh are skipped here
    cand = (ta != tb) & (t_o >= 0)
    cand &= vw.has_sil[t_o.clamp_min(0)]
    bb, jj, ii = cand.nonzero(as_tuple=True)
    a_front, t_o = a_front[bb, jj, ii], t_o[bb, jj, ii]
    pa = (bb * vw.h + jj) * w + ii
    pb = pa + (1 if axis == 0 else w)
    po, pn = torch.where(a_front, pa, pb), torch.where(a_front, pb, pa)
    coord = torch.stack([ii, jj], 1).to(vw.scr.dtype)
    step = torch.zeros(2, dtype=vw.scr.dtype, device=coord.device)
    step[axis] = 1.0
    co = torch.where(a_front[:, None], coord, coord + step)
    cn = torch.where(a_front[:, None], coord + step, coord)
    v = vw.scr[t_o]  # (N, 3, 2)
    s = vw.orient[t_o][:, None]
    va, vb = v[:, [1, 2, 0]], v[:, [2, 0, 1]]  # edge k runs from corner k+1 to corner k+2
    d = vb - va

    def ef(pt):
        r = pt[:, None, :] - va
        return (d[..., 0] * r[..., 1] - d[..., 1] * r[..., 0]) * s

    fo, fn = ef(co), ef(cn)
    crossing = (fn < 0).detach()
    tk = torch.where(crossing, fo / torch.where(crossing, fo - fn, torch.ones_like(fn)),
                     torch.full_like(fo, float("inf")))
    k = tk.detach().argmin(1)
    t = tk.gather(1, k[:, None]).squeeze(1)
    # as nvdiffrast: horizontal pairs blend only edges that run more vertically than
    # horizontally, vertical pairs the others, so no slanted edge is counted twice
    dk = d.detach().gather(1, k[:, None, None].expand(-1, 1, 2)).squeeze(1)
    steep = dk[:, 1].abs() >= dk[:, 0].abs() if axis == 0 else dk[:, 0].abs() >= dk[:, 1].abs()
    ok = crossing.any(1) & vw.edge_sil[t_o, k] & (t.detach() >= 0) & (t.detach() <= 1) & steep
    return po[ok], pn[ok], t[ok]
