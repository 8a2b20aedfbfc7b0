import json
import math
import os
from dataclasses import replace

import numpy as np
import pytest

from relight.data.camera import Camera, look_at
from relight.data.capture_io import load_capture
from relight.data.images import srgb_to_linear, write_png
from relight.runtime.errors import RelightError


def make_nerfstudio(root, n=3, w=20, h=16, masks=True, **top_extra):
    """A small nerfstudio capture: RGB PNGs, separate masks, per-frame intrinsics overrides."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):
        write_png(root / f"images/f{i}.png", rng.random((h, w, 3)))
        m = np.zeros((h, w))
        m[4:12, 5:15] = 1
        write_png(root / f"masks/f{i}.png", m)
        fr = {"file_path": f"images/f{i}.png",
              "transform_matrix": look_at([0, 0, 3 + i], [0, 0, 0]).tolist()}
        if masks:
            fr["mask_path"] = f"masks/f{i}.png"
        if i == 1:
            fr["fl_x"] = 30.0
        frames.append(fr)
    meta = {"fl_x": 25.0, "fl_y": 25.0, "cx": 9.5, "cy": 8.5, "w": w, "h": h, "camera_model": "OPENCV",
            "k1": 0.0, "frames": frames, **top_extra}
    (root / "transforms.json").write_text(json.dumps(meta))
    return root


def test_nerfstudio_reader_intrinsics_masks_overrides(tmp_path):
    cap = load_capture(make_nerfstudio(tmp_path))
    assert len(cap) == 3 and cap.resolution == (16, 20) and not cap.hdr and cap.has_masks
    c0, c1 = cap.cameras[0], cap.cameras[1]
    assert (c0.fx, c0.fy, c0.cx, c0.cy) == (25.0, 25.0, 9.5, 8.5)
    assert c1.fx == 30.0 and c1.fy == 25.0  # per-frame override of fl_x only
    np.testing.assert_allclose(cap.cameras[2].center, [0, 0, 5])
    assert cap.masks[0, 0, 0] == 0 and cap.masks[0, 8, 10] == 1
    assert np.all(cap.images[0][cap.masks[0] == 0] == 0)  # premultiplied: black outside the mask


def test_holdout_split_and_downscale(tmp_path):
    make_nerfstudio(tmp_path, n=9, w=40, h=32)
    tr = load_capture(tmp_path, "train", holdout_every=4)
    te = load_capture(tmp_path, "test", holdout_every=4, downscale=2)
    assert len(tr) == 6 and len(te) == 3 and te.resolution == (16, 20)
    assert te.cameras[0].fx == 12.5 and te.cameras[0].cx == 4.75


@pytest.mark.parametrize("bad,match", [
    ({"file_path": "../outside.png"}, "outside the capture"),
    ({"file_path": "/etc/passwd"}, "absolute"),
    ({"file_path": "images/missing.png"}, "does not exist"),
    ({"file_path": 3}, "relative path string"),
    ({"transform_matrix": [[1, 0], [0, 1]]}, "4x4"),
    ({"transform_matrix": "eye"}, "numeric"),
    ({"k1": 0.1}, "distortion"),
    ({"fl_x": "big"}, "finite number"),
    ({"w": 99}, "declares"),
])
def test_bad_frames_give_one_line_errors(tmp_path, bad, match):
    root = make_nerfstudio(tmp_path)
    (tmp_path.parent / "outside.png").write_bytes((root / "images/f0.png").read_bytes())
    meta = json.loads((root / "transforms.json").read_text())
    meta["frames"][0].update(bad)
    (root / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(RelightError, match=match) as e:
        load_capture(root)
    assert "\n" not in str(e.value) and "transforms.json" in str(e.value) + str(e.value.path)


def test_symlink_out_of_capture_is_refused(tmp_path):
    root = make_nerfstudio(tmp_path / "cap")
    outside = tmp_path / "secret.png"
    outside.write_bytes((root / "images/f0.png").read_bytes())
    os.remove(root / "images/f0.png")
    os.symlink(outside, root / "images/f0.png")
    with pytest.raises(RelightError, match="outside the capture"):
        load_capture(root)


@pytest.mark.parametrize("text,match", [("", "empty"), ("{", "invalid JSON at line 1"),
                                        ('{"frames": []}', "no frames"), ("[1, 2]", "'frames' list")])
def test_malformed_transforms(tmp_path, text, match):
    (tmp_path / "transforms.json").write_text(text)
    with pytest.raises(RelightError, match=match):
        load_capture(tmp_path)


def test_mixed_sizes_refused(tmp_path):
    root = make_nerfstudio(tmp_path)
    meta = json.loads((root / "transforms.json").read_text())
    for k in ("w", "h"):
        meta.pop(k)
    (root / "transforms.json").write_text(json.dumps(meta))
    write_png(root / "images/f2.png", np.zeros((10, 10, 3)))
    write_png(root / "masks/f2.png", np.ones((10, 10)))
    with pytest.raises(RelightError, match="same resolution"):
        load_capture(root)


def test_missing_capture_folder(tmp_path):
    with pytest.raises(RelightError, match="not found"):
        load_capture(tmp_path / "nope")
    with pytest.raises(RelightError, match="transforms"):
        load_capture(tmp_path)


def test_rgb_without_alpha_or_masks(tmp_path):
    cap = load_capture(make_nerfstudio(tmp_path, masks=False))
    assert not cap.has_masks and np.all(cap.masks == 1)


def test_synth_capture_reads_back(tiny_capture):
    from conftest import tiny_spec

    spec = tiny_spec()
    tr = load_capture(tiny_capture, "train")
    te = load_capture(tiny_capture, "test")
    assert len(tr) == 6 and len(te) == 3 and tr.hdr and tr.resolution == (32, 32)
    for got, want in zip(tr.cameras, spec.train_cameras(), strict=True):
        np.testing.assert_allclose(got.c2w, want.c2w, atol=1e-12)
        assert math.isclose(got.fx, want.fx)
    assert te.gt is not None and te.gt.albedo.shape == (3, 32, 32, 3) and te.gt.roughness.shape == (3, 32, 32)
    assert set(te.relit) == {"forest", "studio_r90"}
    assert te.relit["forest"].images.shape == (3, 32, 32, 3) and te.relit["studio_r90"].rotation_deg == 90
    # PNG (8-bit sRGB, straight alpha) and EXR (linear, premultiplied) hold the same picture
    ldr = load_capture(tiny_capture, "train", prefer_exr=False)
    assert not ldr.hdr
    ok = (tr.images.max(-1) < 1.0) & (tr.masks > 0.99)
    err = np.abs(ldr.images - np.minimum(tr.images, 1))[ok]
    assert err.max() < 0.01 and np.abs(ldr.masks - tr.masks).max() < 1 / 255 + 1e-6


def test_nerf_synthetic_lego(shared_data):
    root = shared_data / "datasets/nerf_synthetic_lego"
    tr = load_capture(root, "train", downscale=8, holdout_every=8)
    te = load_capture(root, "test", downscale=8, holdout_every=8)
    assert len(tr) + len(te) == 100 and len(te) == 13 and tr.resolution == (100, 100)
    assert math.isclose(tr.cameras[0].fov_x, 0.6911112070083618, rel_tol=1e-6)
    assert 0.2 < tr.masks.mean() < 0.4 and not tr.hdr and tr.has_masks
    # NeRF-synthetic cameras orbit the object at radius ~4 and look at the origin
    for cam in tr.cameras[:5]:
        assert 3.5 < np.linalg.norm(cam.center) < 4.5
        uv, d = cam.project(np.zeros((1, 3)))
        assert d[0] > 0 and np.all(np.abs(uv[0] - 50) < 10)
    assert np.all(tr.images <= tr.masks[..., None] + 1e-6)
    assert tr.images.max() <= 1.0 and srgb_to_linear(np.float32(1.0)) == 1.0


def test_camera_type_in_capture(tiny_capture):
    cap = load_capture(tiny_capture, "test")
    assert all(isinstance(c, Camera) for c in cap.cameras)
    sub = cap.subset([2, 0])
    assert sub.names == [cap.names[2], cap.names[0]]
    np.testing.assert_array_equal(sub.gt.albedo[0], cap.gt.albedo[2])
    np.testing.assert_array_equal(sub.relit["forest"].images[1], cap.relit["forest"].images[0])


def test_synth_records_its_render_depth_and_eval_uses_it(tiny_capture, cpu_backend, monkeypatch, tmp_path):
    """The capture says how long its reference paths were; evaluation renders with the same."""
    import shutil

    from relight.data.asset import load_asset
    from relight.evaluation import evaluate as ev

    test = load_capture(tiny_capture, "test")
    assert test.max_depth == 3  # tests' tiny scene (conftest) is rendered at depth 3
    depths = []

    def spy(backend, asset, max_depth=8, **kw):
        depths.append(max_depth)
        return real(backend, asset, max_depth, **kw)

    real = ev.build_scene
    monkeypatch.setattr(ev, "build_scene", spy)
    ev.evaluate(load_asset(tiny_capture / "gt"), test, cpu_backend, spp=2)
    assert depths and set(depths) == {3}
    n = len(depths)  # a capture without the key (photos, older captures) gets the documented default
    ev.evaluate(load_asset(tiny_capture / "gt"), replace(test, max_depth=None), cpu_backend, spp=2)
    assert len(depths) == 2 * n and set(depths[n:]) == {ev.EVAL_DEPTH}
    # a bad value is a one-line error naming the file
    cap = tmp_path / "cap"
    shutil.copytree(tiny_capture, cap)
    tf = cap / "transforms_test.json"
    meta = json.loads(tf.read_text())
    meta["relight"]["max_depth"] = 2.5
    tf.write_text(json.dumps(meta))
    with pytest.raises(RelightError, match="max_depth must be an integer"):
        load_capture(cap, "test")
