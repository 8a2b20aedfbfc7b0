"""The turntable light frame (``light_frame: rig``): turning the object on a turntable under a
light fixed to the room renders exactly as the object standing still, the camera at the
turntable angle and the light turned by that angle; captures read it, and fits use it."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np

from relight.data.camera import Camera, look_at
from relight.data.capture import rig_turns_deg
from relight.data.capture_io import load_capture
from relight.evaluation.metrics import psnr
from relight.render.mitsuba import build_scene, render_views
from relight.runtime.paths import read_json, write_json


def _ry(deg: float) -> np.ndarray:
    t = np.radians(deg)
    m = np.eye(4)
    m[:3, :3] = [[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]]
    return m


def test_turntable_equals_turned_camera_and_light(tiny_capture, cpu_backend):
    from relight.data.asset import load_asset

    gt = load_asset(tiny_capture / "gt")
    phi = 70.0
    cam_a = Camera.from_fov(48, 48, np.radians(40), look_at([0, 0.8, 3.0]))  # azimuth 0: on +z
    cam_b = replace(cam_a, c2w=_ry(phi) @ cam_a.c2w)
    assert abs(rig_turns_deg([cam_a, cam_b])[1] - phi) < 1e-9 and abs(rig_turns_deg([cam_a])[0]) < 1e-9
    # (a) the turntable: the object turned by -phi, camera and light still
    turned = replace(gt, mesh=gt.mesh.rotated_y(-phi))
    a = render_views(cpu_backend, build_scene(cpu_backend, turned, 3), [cam_a], 256, seed=1)[0]
    # (b) relight's rig frame: the object still, the camera at azimuth phi, the light turned by phi
    b = render_views(cpu_backend, build_scene(cpu_backend, gt, 3), [cam_b], 256, seed=2, light_deg=[phi])[0]
    c = render_views(cpu_backend, build_scene(cpu_backend, gt, 3), [cam_b], 256, seed=2)[0]  # light not turned
    a2 = render_views(cpu_backend, build_scene(cpu_backend, turned, 3), [cam_a], 256, seed=3)[0]
    m = (a[..., 3] > 0.5) & (b[..., 3] > 0.5)
    assert m.mean() > 0.1
    noise = psnr(a[..., :3], a2[..., :3], m)  # two renders of the same scene: Monte Carlo's floor
    same, wrong = psnr(a[..., :3], b[..., :3], m), psnr(a[..., :3], c[..., :3], m)
    assert same > noise - 1.0 and same > wrong + 10, (same, noise, wrong)


def test_capture_reads_the_rig_light_frame(tiny_capture, tmp_path):
    cap_dir = tmp_path / "cap"
    shutil.copytree(tiny_capture, cap_dir)
    meta = read_json(cap_dir / "transforms_train.json")
    assert load_capture(cap_dir).light_turns_deg is None  # world, the default
    write_json(cap_dir / "transforms_train.json", {**meta, "light_frame": "rig"})
    cap = load_capture(cap_dir)
    assert np.allclose(cap.light_turns_deg, rig_turns_deg(cap.cameras))
    assert np.allclose(cap.subset([2, 0]).light_turns_deg, cap.light_turns_deg[[2, 0]])
    assert cap.light_deg(10.0)[1] == 10.0 + cap.light_turns_deg[1]


def test_poses_writes_the_rig_light_frame(tmp_path):
    """``relight poses --light-frame rig`` on the real turntable capture (../shared): the capture
    carries each view's turntable angle, which steps around the circle with the photos."""
    import pytest

    from cli.main import main
    from tests.test_poses import SHARED_HEAD

    if not SHARED_HEAD.is_dir():
        pytest.skip("needs ../shared/data/datasets/ethiopian_head_real")
    with pytest.raises(SystemExit) as e:
        main(["poses", str(SHARED_HEAD), "-o", str(tmp_path / "cap"), "--light-frame", "rig", "-q"])
    assert e.value.code == 0
    cap = load_capture(tmp_path / "cap", downscale=8)
    steps = np.diff(np.unwrap(np.radians(cap.light_turns_deg)))
    assert len(cap) == 66 and np.all(np.sign(steps) == np.sign(np.median(steps)))
    assert 300 < abs(np.degrees(steps.sum())) < 370  # one turn of the table


def test_turn_equirect_agrees_with_the_renderers_turn():
    """A turn about +y by the matrix path equals the renderer's ``rotation_deg`` convention."""
    from relight.data.images import rotate_equirect, turn_equirect

    rng = np.random.default_rng(0)
    env = rng.uniform(0, 1, (16, 32, 3)).astype(np.float32)
    env = (env + np.roll(env, 1, 1) + np.roll(env, 1, 0)) / 3  # smoother: bilinear paths agree closely
    for deg in (45.0, 90.0, -120.0):
        by_matrix = turn_equirect(env, _ry(deg)[:3, :3])
        assert np.abs(by_matrix - rotate_equirect(env, deg))[3:-3].mean() < 0.02, deg
        assert np.abs(by_matrix - rotate_equirect(env, -deg))[3:-3].mean() > 0.05


def test_a_transformed_asset_renders_like_the_original_seen_from_the_moved_camera(tiny_capture, cpu_backend):
    """Moving the asset (mesh and light) by a similarity and the camera with it changes nothing:
    what aligning a fit from SfM poses to the ground-truth frame relies on."""
    from relight.data.asset import load_asset

    gt = load_asset(tiny_capture / "gt").with_envmap(load_asset(tiny_capture / "gt").envmap, 30.0)
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    sim = np.eye(4)
    sim[:3, :3], sim[:3, 3] = 1.7 * q, [0.3, -1.0, 2.0]
    cam = Camera.from_fov(40, 40, np.radians(40), look_at([0.4, 1.0, 3.0]))
    c2w = sim @ cam.c2w
    c2w[:3, :3] /= 1.7
    moved_cam = replace(cam, c2w=c2w)
    a = render_views(cpu_backend, build_scene(cpu_backend, gt, 3), [cam], 256, seed=1)[0]
    a2 = render_views(cpu_backend, build_scene(cpu_backend, gt, 3), [cam], 256, seed=5)[0]
    b = render_views(cpu_backend, build_scene(cpu_backend, gt.transformed(sim), 3), [moved_cam], 256, seed=2)[0]
    m = (a[..., 3] > 0.5) & (b[..., 3] > 0.5)
    assert m.mean() > 0.1 and abs(a[..., 3].mean() - b[..., 3].mean()) < 0.01
    noise, same = psnr(a[..., :3], a2[..., :3], m), psnr(a[..., :3], b[..., :3], m)
    assert same > noise - 2.0, (same, noise)
