"""Envmap layout: relight reads and writes the equirect layout of Blender / three.js / HDRI sites
(image centre along +x, u = 0.75 along +z, +y up), whatever Mitsuba's own layout is."""

from __future__ import annotations

import numpy as np
import pytest

from relight.data.asset import Asset, load_asset, save_asset
from relight.data.camera import Camera, look_at
from relight.data.images import (
    ENVMAP_PROJECTION,
    LEGACY_ENVMAP_PROJECTION,
    read_envmap,
    rotate_equirect,
)
from relight.export.formats import export_asset
from relight.render.mitsuba import build_scene, render_views
from relight.render.shapes import blob
from relight.runtime.errors import RelightError
from relight.runtime.paths import read_json, write_json

H, W = 16, 32


def spot_light(u: float) -> np.ndarray:
    """Black envmap with one bright patch on the horizon at column ``u`` (0..1)."""
    env = np.zeros((H, W, 3), np.float32)
    c = int(u * W)
    env[H // 2 - 1:H // 2 + 1, c:c + 1] = 400.0
    return env


@pytest.fixture(scope="module")
def sphere() -> Asset:
    mesh = blob(n_lat=24, n_lon=48, dent=0.0)
    return Asset(mesh, np.full((8, 8, 3), 0.8, np.float32), np.ones((8, 8), np.float32), spot_light(0.5))


def lit_side(backend, asset: Asset, eye) -> np.ndarray:
    """Mean luminance of the left and right thirds of a 24² view from ``eye``."""
    cam = Camera.from_fov(24, 24, np.radians(40), look_at(eye))
    img = render_views(backend, build_scene(backend, asset, 2), [cam], 16)[0]
    lum = img[..., :3].mean(-1)
    return np.array([lum[:, :8].mean(), lum[:, 16:].mean()])


@pytest.mark.parametrize("u, lit", [(0.5, "+x"), (0.75, "+z"), (0.0, "-x"), (0.25, "-z")])
def test_envmap_columns_light_the_blender_threejs_directions(cpu_backend, sphere, u, lit):
    """Seen from +z (image right = world +x) a light at u = 0.5 lights the right side, at u = 0
    the left; seen from +x (image right = -z) a light at u = 0.25 lights the right side."""
    asset = sphere.with_envmap(spot_light(u))
    eye, side = {"+x": ((0, 0, 4), 1), "-x": ((0, 0, 4), 0), "-z": ((4, 0, 0), 1), "+z": ((4, 0, 0), 0)}[lit]
    left_right = lit_side(cpu_backend, asset, eye)
    assert left_right[side] > 5 * left_right[1 - side], left_right


def test_rotate_equirect_is_the_renderers_rotation(cpu_backend, sphere):
    """Baking ``rotation_deg`` into the pixels (what export does) renders like the rotation."""
    u = (np.arange(W) + 0.5) / W  # smooth in azimuth, so 64 spp of a diffuse sphere is quiet
    ring = 1.2 + np.sin(2 * np.pi * u) + 0.5 * np.cos(6 * np.pi * u)
    env = np.broadcast_to(ring[None, :, None] * np.array([1.0, 0.8, 0.6]), (H, W, 3)).astype(np.float32)
    cam = Camera.from_fov(24, 24, np.radians(40), look_at((1.0, 1.5, 3.5)))

    def view(e, deg=0.0):
        return render_views(cpu_backend, build_scene(cpu_backend, sphere.with_envmap(e, deg), 2), [cam], 64)[0]

    for deg in (90.0, 33.75):  # a whole number of columns, then a fractional shift
        a = view(env, deg)
        right, wrong = (np.abs(a - view(rotate_equirect(env, d))).mean() for d in (deg, -deg))
        assert right < 0.1 * a[..., :3].mean() and right < 0.4 * wrong, (deg, right, wrong)


def test_rotate_equirect_round_trip():
    env = np.random.default_rng(1).uniform(0, 1, (H, W, 3)).astype(np.float32)
    np.testing.assert_array_equal(rotate_equirect(rotate_equirect(env, 90), -90), env)
    np.testing.assert_array_equal(rotate_equirect(env, 360), env)
    np.testing.assert_array_equal(rotate_equirect(env, 360 / W)[:, 0], env[:, 1])


def test_asset_json_states_the_layout_and_legacy_assets_render_as_before(sphere, tmp_path):
    save_asset(sphere.with_envmap(sphere.envmap, 10.0), tmp_path / "a")
    m = read_json(tmp_path / "a/asset.json")
    assert m["files"]["envmap"]["projection"] == ENVMAP_PROJECTION
    assert load_asset(tmp_path / "a").envmap_rotation_deg == 10.0
    m["files"]["envmap"]["projection"] = LEGACY_ENVMAP_PROJECTION  # Mitsuba's layout: 90 degrees off
    write_json(tmp_path / "a/asset.json", m)
    assert load_asset(tmp_path / "a").envmap_rotation_deg == -80.0
    m["files"]["envmap"]["projection"] = "cubemap"
    write_json(tmp_path / "a/asset.json", m)
    with pytest.raises(RelightError, match="projection"):
        load_asset(tmp_path / "a")


def test_exported_envmap_has_the_rotation_baked_in(sphere, tmp_path):
    export_asset(sphere.with_envmap(sphere.envmap, 90.0), tmp_path / "s.glb")
    np.testing.assert_array_equal(read_envmap(tmp_path / "s_envmap.exr"), rotate_equirect(sphere.envmap, 90.0))


def test_glb_and_obj_of_one_asset_share_a_folder(sphere, tmp_path):
    glb = export_asset(sphere, tmp_path / "s.glb")
    obj = export_asset(sphere, tmp_path / "s.obj")
    assert {p.name for p in glb} & {p.name for p in obj} == {"s_envmap.exr"}
    assert all(p.exists() for p in glb + obj)
    other = sphere.with_envmap(spot_light(0.25))
    before = (tmp_path / "s_envmap.exr").read_bytes()
    (tmp_path / "s.glb").unlink()
    with pytest.raises(RelightError, match="s_envmap.exr"):  # another light under the same name
        export_asset(other, tmp_path / "s.glb", overwrite=False)
    assert (tmp_path / "s_envmap.exr").read_bytes() == before
