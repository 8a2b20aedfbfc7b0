"""Texture resolution from texel density (MaterialConfig.texel_px, relight.material.uv.texture_side)."""

import numpy as np
import pytest

from relight.data.camera import orbit_cameras, pixel_size
from relight.data.mesh import Mesh
from relight.material.uv import texel_size, texture_side, unwrap


@pytest.fixture(scope="module")
def sphere() -> Mesh:
    import trimesh

    s = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    return unwrap(Mesh(np.asarray(s.vertices, np.float64), np.asarray(s.faces, np.int32)), 256)


def test_texture_side_is_the_least_that_meets_the_texel_bound(sphere):
    """The side returned makes texels at most `texel_px` pixels wide, one multiple less would not;
    twice the image resolution needs about twice the side; the bound `hi` caps it; 0 turns it off."""
    cams = orbit_cameras(8, 4.0, 40.0, 64, 64)
    px = pixel_size(cams, np.zeros(3))
    n = texture_side(sphere, cams, 0.5, 16, 4096, 64)
    assert n % 64 == 0 and n > 16
    assert texel_size(sphere, n) <= 0.5 * px < texel_size(sphere, n - 64)
    n2 = texture_side(sphere, orbit_cameras(8, 4.0, 40.0, 128, 128), 0.5, 16, 4096, 64)
    assert abs(n2 - 2 * n) <= 64
    assert texture_side(sphere, cams, 0.5, 16, 128, 64) == 128
    assert texture_side(sphere, cams, 0.0, 16, 4096, 64) == 16
    assert texture_side(sphere, cams, 0.5, 4096, 8192, 64) == 4096  # already fine enough: left as given


def test_texel_px_sets_the_fitted_texture_size(train, gt, cpu_backend):
    """The material stage fits (and returns) textures of the side the texel bound asks for, and
    records it in the asset's config; the memory estimate counts the largest side allowed."""
    from relight.material.config import MaterialConfig
    from relight.material.fit import fit_material, with_texel_density

    cfg = MaterialConfig(iterations=2, batch_views=1, spp=2, max_depth=2, tex_res=16, env_width=16, levels=1,
                         level_split=[1.0],
                         texel_px=0.5, max_tex_res=512, refine_passes=0, checkpoint_every=0)
    side = with_texel_density(cfg, train, gt.mesh).tex_res
    assert 16 < side <= 512 and side % 16 == 0
    res = fit_material(train, gt.mesh, cfg, cpu_backend)
    assert res.asset.albedo.shape[:2] == (side, side)
    assert res.asset.info["config"]["tex_res"] == side
    assert cfg.largest_tex_res == 512 and MaterialConfig(tex_res=64).largest_tex_res == 64
    big = MaterialConfig(tex_res=4096, texel_px=0.5)  # a tex_res above max_tex_res is kept, not refused
    assert big.largest_tex_res == 4096 and with_texel_density(big, train, gt.mesh).tex_res == 4096


def test_material_command_follows_texel_px(tiny_capture, train, tmp_path, capsys):
    """`relight material` with `texel_px` in its TOML writes textures of the side the bound asks for."""
    import json

    from cli.main import main
    from relight.data.asset import load_asset
    from relight.material.config import MaterialConfig
    from relight.material.fit import with_texel_density

    cfg = tmp_path / "t.toml"
    cfg.write_text("iterations = 2\nspp = 2\ntex_res = 16\nenv_width = 16\nlevels = 1\nlevel_split = [1.0]\n"
                   "texel_px = 0.5\nmax_tex_res = 256\n")
    with pytest.raises(SystemExit) as e:
        main(["material", str(tiny_capture), "--mesh", str(tiny_capture / "gt/mesh.obj"), "-o", str(tmp_path / "a"),
              "--config", str(cfg), "-q", "--device", "cpu"])
    assert e.value.code == 0, capsys.readouterr().err
    asset = load_asset(tmp_path / "a")
    side = asset.albedo.shape[0]
    want = with_texel_density(MaterialConfig(tex_res=16, levels=1, level_split=[1.0], texel_px=0.5, max_tex_res=256),
                              train, asset.mesh).tex_res
    assert side == want > 16
    assert json.loads((tmp_path / "a" / "asset.json").read_text())["info"]["config"]["tex_res"] == side
