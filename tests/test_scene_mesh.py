import numpy as np
import pytest

from relight.data.mesh import Mesh, load_mesh, smooth_normals, validate_mesh, write_obj
from relight.render.scene import list_scenes, load_scene
from relight.render.shapes import blob, bottle, lathe, torus_knot, vase
from relight.render.textures import TextureSpec, make_texture, sample_bilinear
from relight.runtime.errors import RelightError


def test_builtin_scenes_load_and_build():
    assert {"spot", "knot", "blob", "vase", "bottle"} <= set(list_scenes())
    for name in ("spot", "knot", "blob", "vase", "bottle"):
        spec = load_scene(name)
        asset = spec.build_asset()
        r = np.linalg.norm(asset.mesh.vertices, axis=1).max()
        assert r == pytest.approx(spec.mesh.radius, rel=1e-4)  # normalised into its sphere
        assert asset.albedo.max() <= 1 and asset.roughness.min() >= 0
        assert asset.envmap.shape[1] == 2 * asset.envmap.shape[0]
        assert len(spec.light.relight) >= 4


def write_scene(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


BASE = f'[mesh]\nbuiltin = "torus_knot"\n[light]\nenvmap = "{load_scene("spot").resolve("envmaps/forest.exr")}"\n'


@pytest.mark.parametrize("extra,match", [
    ("colour = 3\n", "unknown key 'light.colour'"),
    ("[cameras]\nviews = 0\n", "views must be in"),
    ("[cameras]\nres = 'big'\n", "must be an integer"),
    ("[cameras]\nlayout = 'cube'\n", "layout"),
    ("[material]\nalbedo = { type = 'marble' }\n", "unknown texture type"),
    ("[material]\nalbedo = { type = 'checker', colors = [[1, 0, 0]] }\n", "colors"),
    ("[cameras]\nspp = 1 2\n", "invalid TOML"),
])
def test_bad_scene_toml(tmp_path, extra, match):
    with pytest.raises(RelightError, match=match) as e:
        load_scene(write_scene(tmp_path, BASE + extra))
    assert "s.toml" in str(e.value)


def test_scene_missing_files(tmp_path):
    with pytest.raises(RelightError, match="envmap 'nope.exr' not found"):
        load_scene(write_scene(tmp_path, '[mesh]\nbuiltin = "torus_knot"\n[light]\nenvmap = "nope.exr"\n'))
    with pytest.raises(RelightError, match="unknown scene"):
        load_scene("no_such_scene")


def test_torus_knot_is_closed_and_outward():
    import trimesh

    m = torus_knot()
    tm = trimesh.Trimesh(m.vertices, m.faces, process=False)
    tm.merge_vertices()
    assert tm.is_watertight and tm.volume > 0
    fn = np.cross(m.vertices[m.faces[:, 1]] - m.vertices[m.faces[:, 0]],
                  m.vertices[m.faces[:, 2]] - m.vertices[m.faces[:, 0]])
    assert np.all((fn * m.normals[m.faces].mean(1)).sum(1) > 0)
    assert m.uvs.min() >= 0 and m.uvs.max() <= 1


def test_blob_is_closed_outward_and_dented():
    """Once seam/pole duplicates are merged the blob is watertight with positive volume; its
    radius dips well below the mean (concavities) and its UVs are lat-long in [0, 1]."""
    import trimesh

    m = blob(n_lat=48, n_lon=96)
    tm = trimesh.Trimesh(m.vertices, m.faces, process=False)
    tm.merge_vertices()
    tm.remove_unreferenced_vertices()
    assert tm.is_watertight and tm.volume > 0
    r = np.linalg.norm(m.vertices, axis=1)
    assert r.min() < 0.8 * np.median(r) and r.max() < 1.2
    assert m.uvs.min() >= 0 and m.uvs.max() <= 1


@pytest.mark.parametrize("make", [vase, bottle])
def test_lathe_shapes_are_closed_outward_and_revolved(make):
    """The lathe objects are watertight once seam/pole duplicates merge, wound outward, and every
    row of vertices is a circle about +y (a surface of revolution)."""
    import trimesh

    m = make()
    tm = trimesh.Trimesh(m.vertices, m.faces, process=False)
    tm.merge_vertices()
    tm.remove_unreferenced_vertices()
    assert tm.is_watertight and tm.volume > 0
    rows = m.vertices.reshape(129, 161, 3)
    r = np.linalg.norm(rows[..., [0, 2]], axis=-1)
    assert np.ptp(r, axis=1).max() < 1e-6 and np.ptp(rows[..., 1], axis=1).max() < 1e-6  # float32
    assert m.uvs.min() >= 0 and m.uvs.max() <= 1


def test_lathe_follows_its_profile_without_overshoot():
    """A cylinder profile gives radius 1 along its side (PCHIP does not overshoot the corners)."""
    m = lathe(np.array([[0.0, -1.0], [1.0, -1.0], [1.0, 1.0], [0.0, 1.0]]), n_around=16, n_along=64)
    r = np.linalg.norm(m.vertices[:, [0, 2]], axis=1)
    assert r.max() <= 1.0 + 1e-6
    side = np.abs(m.vertices[:, 1]) < 0.5
    np.testing.assert_allclose(r[side], 1.0, atol=1e-6)


def test_smooth_normals_of_a_sphere_are_radial():
    import trimesh

    s = trimesh.creation.icosphere(3)
    n = smooth_normals(s.vertices, s.faces)
    assert np.min((n * s.vertices / np.linalg.norm(s.vertices, axis=1, keepdims=True)).sum(1)) > 0.999


def test_obj_round_trip(tmp_path):
    m = torus_knot(segments=32, n_around=8)
    write_obj(tmp_path / "m.obj", m)
    back = load_mesh(tmp_path / "m.obj")
    np.testing.assert_allclose(back.vertices, m.vertices, atol=1e-6)
    np.testing.assert_array_equal(back.faces, m.faces)
    np.testing.assert_allclose(back.uvs, m.uvs, atol=1e-6)


@pytest.mark.parametrize("mesh,match", [
    (Mesh(np.zeros((0, 3)), np.zeros((0, 3))), "no vertices"),
    (Mesh(np.array([[0, 0, 0], [1, 0, 0], [np.nan, 1, 0]]), np.array([[0, 1, 2]])), "NaN"),
    (Mesh(np.eye(3), np.array([[0, 1, 5]])), "missing vertices"),
])
def test_bad_meshes(mesh, match):
    with pytest.raises(RelightError, match=match):
        validate_mesh(mesh)


def test_bad_mesh_files(tmp_path):
    (tmp_path / "e.obj").write_text("")
    with pytest.raises(RelightError):
        load_mesh(tmp_path / "e.obj")
    (tmp_path / "pts.obj").write_text("v 0 0 0\nv 1 0 0\n")
    with pytest.raises(RelightError):
        load_mesh(tmp_path / "pts.obj")


def test_procedural_textures_and_bilinear_lookup():
    chk = make_texture(TextureSpec(type="checker", colors=[[0.0], [1.0]], scale=2, resolution=8), 1)
    assert chk.shape == (8, 8, 1) and set(np.unique(chk)) == {0.0, 1.0}
    # texel centres are reproduced exactly; v is up (row 0 = v near 1)
    uv = np.array([[0.5 / 8, 1 - 0.5 / 8], [7.5 / 8, 0.5 / 8]])
    np.testing.assert_allclose(sample_bilinear(chk, uv)[:, 0], [chk[0, 0, 0], chk[7, 7, 0]])
    n = make_texture(TextureSpec(type="noise", colors=[[0.2], [0.8]], seed=1, resolution=32), 1)
    assert n.min() == pytest.approx(0.2) and n.max() == pytest.approx(0.8)
    const = make_texture(TextureSpec(value=[0.1, 0.2, 0.3], resolution=4), 3)
    np.testing.assert_allclose(const[2, 3], [0.1, 0.2, 0.3])
