"""The raster interface: CPU backend correctness, gradients vs finite differences, and parity
with nvdiffrast (skipped without CUDA)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from relight.data.camera import orbit_cameras
from relight.geometry.raster import (
    CpuRaster,
    NvdiffrastRaster,
    flip_y,
    make_raster,
    nvdiffrast_available,
)

TRI = torch.tensor([[0, 1, 2]], dtype=torch.int32)
# a perspective-distorted triangle (different w per vertex), no pixel centre on an edge
POS = torch.tensor([[[-0.53, -0.47, 0.0, 1.0], [0.51, -0.58, 0.1, 1.2], [0.03, 0.61, 0.5, 0.9]]],
                   dtype=torch.float64)


def _inside(pos: torch.Tensor, h: int, w: int) -> np.ndarray:
    """Reference coverage by the 2D point-in-triangle test of every pixel centre (row 0 = bottom)."""
    p = (pos[0, :, :2] / pos[0, :, 3:]).numpy()
    ys, xs = np.mgrid[0:h, 0:w]
    q = np.stack([(2 * (xs + 0.5) / w - 1), (2 * (ys + 0.5) / h - 1)], -1)

    def side(a, b):
        return (b[0] - a[0]) * (q[..., 1] - a[1]) - (b[1] - a[1]) * (q[..., 0] - a[0])

    s = [side(p[0], p[1]), side(p[1], p[2]), side(p[2], p[0])]
    return ((s[0] >= 0) & (s[1] >= 0) & (s[2] >= 0)) | ((s[0] <= 0) & (s[1] <= 0) & (s[2] <= 0))


def test_coverage_matches_point_in_triangle():
    rast, _ = CpuRaster().rasterize(POS, TRI, (16, 20))
    assert rast.shape == (1, 16, 20, 4)
    np.testing.assert_array_equal(rast[0, ..., 3].numpy() > 0, _inside(POS, 16, 20))
    assert set(np.unique(rast[0, ..., 3].numpy())) <= {0.0, 1.0}  # triangle id + 1, 0 = background


def test_barycentrics_are_perspective_correct():
    """Interpolated clip positions land on each pixel centre's NDC and depth is z/w."""
    h, w = 16, 20
    r = CpuRaster()
    rast, _ = r.rasterize(POS, TRI, (h, w))
    clip, _ = r.interpolate(POS[0], rast, TRI)
    m = rast[0, ..., 3] > 0
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    ndc_x = (2 * (xs + 0.5) / w - 1)[m]
    ndc_y = (2 * (ys + 0.5) / h - 1)[m]
    c = clip[0][m]
    torch.testing.assert_close(c[:, 0] / c[:, 3], ndc_x, atol=1e-9, rtol=0)
    torch.testing.assert_close(c[:, 1] / c[:, 3], ndc_y, atol=1e-9, rtol=0)
    torch.testing.assert_close(rast[0, ..., 2][m], c[:, 2] / c[:, 3], atol=1e-9, rtol=0)


def test_nearest_triangle_wins():
    pos = torch.tensor([[[-0.9, -0.9, 0.5, 1], [0.9, -0.9, 0.5, 1], [0, 0.9, 0.5, 1],
                         [-0.9, 0.9, -0.2, 1], [0.9, 0.9, -0.2, 1], [0, -0.9, -0.2, 1]]], dtype=torch.float32)
    tri = torch.tensor([[0, 1, 2], [3, 5, 4]], dtype=torch.int32)
    rast, _ = CpuRaster().rasterize(pos, tri, (32, 32))
    ids = rast[0, ..., 3]
    assert ids[16, 16] == 2  # the second triangle is nearer (z = -0.2)
    assert (ids == 1).any() and (ids == 2).any()
    assert torch.allclose(rast[0, ..., 2][ids == 2], torch.tensor(-0.2), atol=1e-6)


def test_small_chunks_give_the_same_image():
    m = trimesh.creation.icosphere(subdivisions=2, radius=0.7)
    cam = orbit_cameras(3, 2.5, 40.0, 48, 40)[1]
    pos = _clip(m.vertices, cam)
    tri = torch.tensor(m.faces, dtype=torch.int32)
    a, _ = CpuRaster().rasterize(pos, tri, (40, 48))
    b, _ = CpuRaster(max_pairs=64).rasterize(pos, tri, (40, 48))
    torch.testing.assert_close(a, b)


def test_a_batch_is_its_views_one_by_one():
    """All three ops work on every view of a batch at once (flattened pixel and triangle indices):
    each view's images and the gradients w.r.t. positions and per-vertex attributes must equal
    those of the view rendered alone, per-view (B, V, C) attributes included."""
    m = trimesh.creation.icosphere(subdivisions=2, radius=0.7)
    cams = orbit_cameras(3, 2.5, 40.0, 40, 32)
    tri = torch.tensor(m.faces, dtype=torch.int32)
    r = CpuRaster()
    g = torch.Generator().manual_seed(0)
    attr = torch.rand(3, len(m.vertices), 2, dtype=torch.float64, generator=g)
    wgt = torch.rand(3, 32, 40, 3, dtype=torch.float64, generator=g)

    def draw(pos, a, wg):
        rast, _ = r.rasterize(pos, tri, (32, 40))
        col = torch.cat([r.interpolate(a, rast, tri)[0], (rast[..., 3:4] > 0).double()], -1)
        img = r.antialias(col, rast, pos, tri, r.construct_topology_hash(tri))
        (img * wg).sum().backward()
        return img

    pos = torch.cat([_clip(m.vertices, c) for c in cams]).requires_grad_(True)
    a = attr.clone().requires_grad_(True)
    batch = draw(pos, a, wgt)
    assert (batch[..., 2] > 0).any(dim=(1, 2)).all()
    for b in range(3):
        pb = _clip(m.vertices, cams[b]).requires_grad_(True)
        ab = attr[b:b + 1].clone().requires_grad_(True)
        torch.testing.assert_close(draw(pb, ab, wgt[b:b + 1])[0], batch[b])
        torch.testing.assert_close(pb.grad[0], pos.grad[b])
        torch.testing.assert_close(ab.grad[0], a.grad[b])


def test_supersampled_draw_is_the_box_average():
    """render_views with supersample k equals the k x k box average (avg_pool2d) of the picture
    drawn at k times the resolution, in image layout (row 0 = top), coverage included."""
    from relight.geometry.draw import render_views

    m = trimesh.creation.icosphere(subdivisions=2, radius=0.7)
    cam = orbit_cameras(3, 2.5, 40.0, 24, 20)[1]
    v = torch.tensor(m.vertices, dtype=torch.float64)
    f = torch.tensor(m.faces, dtype=torch.int32)
    c = torch.rand(len(v), 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    mvp = torch.tensor(cam.mvp(), dtype=torch.float64)[None]
    r = CpuRaster()
    col, cov = render_views(r, v, f, c, mvp, (20, 24), supersample=3)
    big_col, big_cov = render_views(r, v, f, c, mvp, (60, 72))
    big = torch.cat([big_col, big_cov[..., None]], -1).permute(0, 3, 1, 2)
    ref = torch.nn.functional.avg_pool2d(big, 3).permute(0, 2, 3, 1)
    torch.testing.assert_close(col, ref[..., :3])
    torch.testing.assert_close(cov, ref[..., 3])
    assert 0 < cov.mean() < 1 and ((cov > 0) & (cov < 1)).any()  # edges partly covered


def _clip(vertices, cam, dtype=torch.float64):
    v = torch.tensor(np.asarray(vertices), dtype=dtype)
    hom = torch.cat([v, torch.ones_like(v[:, :1])], 1)
    return (hom @ torch.tensor(cam.mvp(), dtype=dtype).T)[None].contiguous()


def _fd_check(fn, pos, eps=1e-4, tol=2e-3):
    pos = pos.clone().requires_grad_(True)
    fn(pos).backward()
    g = pos.grad.clone()
    fd = torch.zeros_like(g)
    with torch.no_grad():
        for idx in np.ndindex(*pos.shape[1:]):
            if idx[1] > 1:  # x and y only (z only moves depth, w has its own checks below)
                continue
            p = pos.detach().clone()
            p[(0, *idx)] += eps
            a = fn(p)
            p[(0, *idx)] -= 2 * eps
            fd[(0, *idx)] = (a - fn(p)) / (2 * eps)
    assert torch.abs(g).max() > 0.1  # there is a gradient to check
    torch.testing.assert_close(g[..., :2], fd[..., :2], atol=tol, rtol=tol)


def test_interpolate_gradient_matches_finite_differences():
    r = CpuRaster()
    attr = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, -1.0]], dtype=torch.float64)
    wgt = torch.rand(1, 12, 12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def f(p):
        rast, _ = r.rasterize(p, TRI, (12, 12))
        return (r.interpolate(attr, rast, TRI)[0] * wgt).sum()

    _fd_check(f, POS)


def test_antialias_gradient_matches_finite_differences():
    """Silhouette gradients exist only through antialias: they must match finite differences."""
    r = CpuRaster()
    wgt = torch.rand(1, 12, 12, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def f(p):
        rast, _ = r.rasterize(p, TRI, (12, 12))
        cov = (rast[..., 3:4] > 0).double()
        return (r.antialias(cov, rast, p, TRI) * wgt).sum()

    _fd_check(f, POS)


def test_antialias_coverage_estimates_area():
    """Summed anti-aliased coverage of a triangle is close to its true pixel area (closer than
    the aliased count), and its gradient is the area's gradient."""
    r = CpuRaster()
    h = w = 24
    pos = POS.clone().requires_grad_(True)
    rast, _ = r.rasterize(pos, TRI, (h, w))
    cov = (rast[..., 3:4] > 0).double()
    aa = r.antialias(cov, rast, pos, TRI)
    p2 = (POS[0, :, :2] / POS[0, :, 3:]).numpy() * [w / 2, h / 2]
    e1, e2 = p2[1] - p2[0], p2[2] - p2[0]
    area = 0.5 * abs(e1[0] * e2[1] - e1[1] * e2[0])
    assert abs(aa.sum().item() - area) < abs(cov.sum().item() - area)
    assert abs(aa.sum().item() - area) < 0.01 * 41.5  # perimeter 41.5 px; measured 0.18 px
    aa.sum().backward()
    # moving the top vertex up (+y) grows the triangle
    assert pos.grad[0, 2, 1] > 0
    # and the coverage gradient is the exact area's (each edge counted once; measured 5 % off,
    # 93 % off when slanted edges were blended by both horizontal and vertical pixel pairs)
    p = POS.clone().requires_grad_(True)
    q = p[0, :, :2] / p[0, :, 3:] * torch.tensor([w / 2, h / 2], dtype=torch.float64)
    a, b = q[1] - q[0], q[2] - q[0]
    (0.5 * (a[0] * b[1] - a[1] * b[0]).abs()).backward()
    assert (pos.grad - p.grad).norm() < 0.1 * p.grad.norm()


def test_interior_edges_are_not_blended():
    """Two triangles sharing an edge, both facing the camera: no silhouette, no blending."""
    pos = torch.tensor([[[-0.8, -0.7, 0, 1], [0.7, -0.8, 0, 1], [0.75, 0.7, 0, 1], [-0.7, 0.8, 0, 1]]],
                       dtype=torch.float64)
    tri = torch.tensor([[0, 1, 2], [0, 2, 3]], dtype=torch.int32)
    r = CpuRaster()
    rast, _ = r.rasterize(pos, tri, (16, 16))
    col = torch.where(rast[..., 3:4] == 1, 1.0, 0.0).double()  # different colour per triangle
    aa = r.antialias(col, rast, pos, tri)
    inner = (rast[..., 3] > 0)
    inner[:, 1:-1, 1:-1] &= (rast[..., 3] > 0)[:, :-2, 1:-1] & (rast[..., 3] > 0)[:, 2:, 1:-1]
    inner[:, 1:-1, 1:-1] &= (rast[..., 3] > 0)[:, 1:-1, :-2] & (rast[..., 3] > 0)[:, 1:-1, 2:]
    inner[:, [0, -1]] = False
    inner[:, :, [0, -1]] = False
    torch.testing.assert_close(aa[inner], col[inner])


def test_flip_y_and_make_raster():
    x = torch.arange(6.0).view(1, 3, 2, 1)
    assert torch.equal(flip_y(flip_y(x)), x) and flip_y(x)[0, 0, 0, 0] == 4
    assert isinstance(make_raster("cpu"), CpuRaster)


cuda = pytest.mark.skipif(not nvdiffrast_available(), reason="needs CUDA and nvdiffrast")


@cuda
@pytest.mark.cuda
def test_parity_with_nvdiffrast():
    """CPU backend vs nvdiffrast on a sphere: same ids on >= 99.5% of pixels, barycentrics and
    depth within 1e-4 where ids agree, antialiased coverage within 0.05 mean abs and 1 % in
    total, and silhouette gradients pointing the same way (cosine > 0.9) with norms within 15 %."""
    m = trimesh.creation.icosphere(subdivisions=3, radius=0.7)
    cam = orbit_cameras(5, 2.5, 40.0, 96, 80)[2]
    tri_c = torch.tensor(m.faces, dtype=torch.int32)
    out = {}
    for name, ras, dev in (("cpu", CpuRaster(), "cpu"), ("cuda", NvdiffrastRaster("cuda"), "cuda")):
        pos = _clip(m.vertices, cam, torch.float32).to(dev).requires_grad_(True)
        tri = tri_c.to(dev)
        rast, _ = ras.rasterize(pos, tri, (80, 96))
        cov = (rast[..., 3:4] > 0).float()
        aa = ras.antialias(cov, rast, pos, tri)
        aa.sum().backward()
        out[name] = (rast.detach().cpu(), aa.detach().cpu(), pos.grad.cpu())
    (ra, aa_a, ga), (rb, aa_b, gb) = out["cpu"], out["cuda"]
    same = ra[..., 3] == rb[..., 3]
    assert same.float().mean() > 0.995
    hit = same & (ra[..., 3] > 0)
    torch.testing.assert_close(ra[..., :3][hit], rb[..., :3][hit], atol=1e-4, rtol=0)
    assert (aa_a - aa_b).abs().mean() < 0.05
    cos = torch.nn.functional.cosine_similarity(ga.flatten(), gb.flatten(), dim=0)
    assert cos > 0.9
    # magnitudes too (a cosine cannot see an edge blended twice, which doubles both)
    assert abs(aa_a.sum() / aa_b.sum() - 1) < 0.01
    assert abs(ga.norm() / gb.norm() - 1) < 0.15
