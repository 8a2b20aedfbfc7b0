import numpy as np
import pytest

from relight.data.asset import load_asset, save_asset
from relight.data.capture_io import load_capture
from relight.data.images import read_exr
from relight.render.mitsuba import build_scene, render_views, surface_aovs


def test_synth_layout(tiny_capture):
    for rel in ["transforms_train.json", "transforms_test.json", "train/r_000.png", "train/r_005.exr",
                "test/r_002.exr", "test/aov/r_000_albedo.exr", "test/aov/r_000_roughness.exr",
                "test/aov/r_000_normal.exr", "relit/forest/r_002.png", "relit/studio_r90/r_000.exr",
                "gt/asset.json", "gt/mesh.obj", "gt/albedo.exr", "gt/envmap.exr", "gt/envmaps/forest.exr"]:
        assert (tiny_capture / rel).is_file(), rel
    assert not list(tiny_capture.parent.glob(".spot.tmp-*"))  # atomic: no leftovers


def test_images_are_premultiplied_and_masks_match_geometry(tiny_capture):
    cap = load_capture(tiny_capture, "test")
    assert np.all(cap.images[cap.masks == 0] == 0)  # background black where alpha = 0
    inside = cap.masks > 0.99
    assert inside.mean() > 0.05 and cap.images[inside].mean() > 0.02
    # the path tracer's coverage agrees with the ray-cast AOVs away from silhouettes
    hit = (np.linalg.norm(cap.gt.normals, axis=-1) > 0.5).astype(np.float32)
    assert np.mean(np.abs(hit - cap.masks)) < 0.05


def test_gt_aovs_are_physical(tiny_capture):
    cap = load_capture(tiny_capture, "test")
    gt = cap.gt
    hit = np.linalg.norm(gt.normals, axis=-1) > 0.5
    np.testing.assert_allclose(np.linalg.norm(gt.normals[hit], axis=-1), 1, atol=1e-3)
    assert gt.roughness[hit].min() >= 0.2 - 1e-3 and gt.roughness[hit].max() <= 0.75 + 1e-3
    assert gt.albedo[hit].max() <= 1 and gt.albedo[~hit].max() == 0
    # shading normals mostly face the camera that sees them
    facing = []
    for i, cam in enumerate(cap.cameras):
        _, d = cam.pixel_rays()
        facing.append(((gt.normals[i] * -d).sum(-1) > 0)[hit[i]].mean())
    assert min(facing) > 0.9


def test_relit_views_differ_from_training_light(tiny_capture):
    cap = load_capture(tiny_capture, "test")
    for r in cap.relit.values():
        assert r.images.shape == cap.images.shape
        assert np.abs(r.images - cap.images).mean() > 0.01
        assert np.all(r.images[cap.masks == 0] == 0)


def test_rendering_is_linear_in_light_and_deterministic(cpu_backend, tiny_capture):
    """Same seed -> same image; doubling the envmap doubles every pixel (linear radiometry)."""
    asset = load_asset(tiny_capture / "gt")
    cap = load_capture(tiny_capture, "test")
    cams = cap.cameras[:1]
    a = render_views(cpu_backend, build_scene(cpu_backend, asset, 3), cams, 8, seed=5)
    b = render_views(cpu_backend, build_scene(cpu_backend, asset, 3), cams, 8, seed=5)
    np.testing.assert_array_equal(a, b)
    c = render_views(cpu_backend, build_scene(cpu_backend, asset.with_envmap(2 * asset.envmap), 3), cams, 8, seed=5)
    np.testing.assert_allclose(c[..., :3], 2 * a[..., :3], rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(c[..., 3], a[..., 3])


def test_converged_render_matches_capture(cpu_backend, tiny_capture):
    """Re-rendering the GT asset with more samples reproduces the capture within MC noise."""
    asset = load_asset(tiny_capture / "gt")
    cap = load_capture(tiny_capture, "test")
    ref = render_views(cpu_backend, build_scene(cpu_backend, asset, 3), cap.cameras, 256, seed=99)
    for r, img in zip(ref[..., :3], cap.images, strict=True):
        assert abs(r.mean() / img.mean() - 1) < 0.05  # unbiased: means agree within 5 %
        psnr = 10 * np.log10(img.max() ** 2 / np.mean((r - img) ** 2))
        assert psnr > 26, psnr  # a 1-pixel shift scores < 24 dB; 16-spp capture vs 256-spp reference


def test_gt_asset_round_trip(tiny_capture, tmp_path):
    from conftest import tiny_spec

    want = tiny_spec().build_asset()
    got = load_asset(tiny_capture / "gt")
    np.testing.assert_allclose(got.mesh.vertices, want.mesh.vertices, atol=1e-6)
    np.testing.assert_array_equal(got.mesh.faces, want.mesh.faces)
    np.testing.assert_allclose(got.mesh.uvs, want.mesh.uvs, atol=1e-6)
    np.testing.assert_array_equal(got.albedo, want.albedo)
    np.testing.assert_array_equal(got.roughness, want.roughness)
    np.testing.assert_array_equal(got.envmap, want.envmap)
    save_asset(got, tmp_path / "again")
    np.testing.assert_array_equal(read_exr(tmp_path / "again/albedo.exr"), read_exr(tiny_capture / "gt/albedo.exr"))


def test_aovs_of_knot_scene_sample_procedural_textures(cpu_backend):
    from conftest import tiny_spec

    spec = tiny_spec("knot")
    asset = spec.build_asset()
    scene = build_scene(cpu_backend, asset, 2)
    a = surface_aovs(cpu_backend, scene, asset, spec.train_cameras()[0])
    hit = a["hit"] > 0
    assert hit.mean() > 0.1
    # stripes roughness is either 0.15 or 0.6 except at bilinear stripe borders
    r = a["roughness"][hit]
    assert np.mean((np.abs(r - 0.15) < 0.02) | (np.abs(r - 0.6) < 0.02)) > 0.8


@pytest.mark.cuda
def test_cuda_synth_matches_cpu_statistically(cuda_backend, cpu_backend, tiny_capture):
    asset = load_asset(tiny_capture / "gt")
    cap = load_capture(tiny_capture, "test")
    g = render_views(cuda_backend, build_scene(cuda_backend, asset, 3), cap.cameras[:1], 256)
    c = render_views(cpu_backend, build_scene(cpu_backend, asset, 3), cap.cameras[:1], 256)
    assert abs(g[..., :3].mean() - c[..., :3].mean()) < 0.02 * c[..., :3].mean()


def test_metallic_scene_records_and_scores_metallic(cpu_backend, tmp_path):
    """The bottle's capture carries a metallic AOV (bands of exactly 0 and 1); its own GT asset
    scores metallic MAE ~0, and the same asset without its metallic texture scores the metal
    fraction (a dielectric counts as metallic 0)."""
    from dataclasses import replace

    from conftest import tiny_spec

    from relight.evaluation.evaluate import evaluate
    from relight.render.synth import synthesize

    spec = tiny_spec("bottle", test_views=2)
    synthesize(spec, tmp_path / "b", cpu_backend)
    cap = load_capture(tmp_path / "b", "test")
    hit = np.linalg.norm(cap.gt.normals, axis=-1) > 0.5
    m = cap.gt.metallic[hit]
    assert np.mean((m < 0.02) | (m > 0.98)) > 0.8 and 0.2 < np.mean(m > 0.5) < 0.8
    gt = load_asset(tmp_path / "b/gt")
    assert gt.metallic is not None
    ev = evaluate(gt, cap, cpu_backend, spp=4)
    assert ev.metallic_mae < 0.02
    ev0 = evaluate(replace(gt, metallic=None), cap, cpu_backend, spp=4)
    both = hit & (cap.masks > 0.5)
    assert ev0.metallic_mae == pytest.approx(cap.gt.metallic[both].mean(), abs=0.05)
