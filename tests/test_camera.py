import math

import numpy as np
import pytest

from relight.data.camera import Camera, look_at, orbit_cameras, sphere_directions
from relight.runtime.errors import RelightError


def random_camera(rng, w=64, h=48, square=True) -> Camera:
    eye = rng.normal(size=3)
    eye = 3.0 * eye / np.linalg.norm(eye)
    c2w = look_at(eye, rng.normal(size=3) * 0.1)
    fx = rng.uniform(40, 90)
    fy = fx if square else fx * 1.1
    return Camera(w, h, fx, fy, w / 2 + rng.uniform(-5, 5), h / 2 + rng.uniform(-5, 5), c2w)


def clip_to_pixel(cam: Camera, pts: np.ndarray) -> np.ndarray:
    ph = np.c_[pts, np.ones(len(pts))] @ cam.mvp(0.1, 10.0).T
    ndc = ph[:, :3] / ph[:, 3:]
    assert np.all(np.abs(ndc[:, 2]) <= 1)  # inside the depth range
    return np.stack([(ndc[:, 0] + 1) * 0.5 * cam.width, (1 - ndc[:, 1]) * 0.5 * cam.height], -1)


def test_clip_space_matches_pinhole_projection():
    rng = np.random.default_rng(0)
    for _ in range(5):
        cam = random_camera(rng, square=False)
        pts = rng.normal(size=(50, 3)) * 0.5
        uv, depth = cam.project(pts)
        assert np.all(depth > 0)
        np.testing.assert_allclose(clip_to_pixel(cam, pts), uv, atol=1e-6)


def test_point_projects_to_same_pixel_in_mitsuba_and_clip_space(cpu_backend):
    """The ray Mitsuba's sensor shoots through the clip-space pixel of P passes through P."""
    from relight.render.mitsuba import sensor

    mi = cpu_backend.mitsuba()
    rng = np.random.default_rng(1)
    for _ in range(4):
        cam = random_camera(rng)
        sens = sensor(cpu_backend, cam, spp=1)
        pts = rng.normal(size=(20, 3)) * 0.4
        uv = clip_to_pixel(cam, pts)
        film = mi.Point2f(mi.Float(uv[:, 0] / cam.width), mi.Float(uv[:, 1] / cam.height))
        ray, _ = sens.sample_ray(0.0, 0.5, film, mi.Point2f(0.5, 0.5))
        o = np.array(ray.o).reshape(3, -1).T if np.array(ray.o).shape[0] == 3 else np.array(ray.o)
        d = np.array(ray.d).reshape(3, -1).T if np.array(ray.d).shape[0] == 3 else np.array(ray.d)
        v = pts - o
        dist = np.linalg.norm(v - (v * d).sum(1, keepdims=True) * d, axis=1)
        assert dist.max() < 1e-4, dist.max()


def test_mitsuba_refuses_non_square_pixels(cpu_backend):
    from relight.render.mitsuba import sensor

    cam = random_camera(np.random.default_rng(2), square=False)
    with pytest.raises(RelightError, match="non-square"):
        sensor(cpu_backend, cam)


def test_pixel_rays_reproject_to_pixel_centres():
    cam = random_camera(np.random.default_rng(3))
    o, d = cam.pixel_rays()
    pts = o + 2.5 * d.reshape(-1, 3)
    uv, _ = cam.project(pts)
    j, i = np.meshgrid(np.arange(cam.height), np.arange(cam.width), indexing="ij")
    np.testing.assert_allclose(uv, np.stack([i.ravel() + 0.5, j.ravel() + 0.5], -1), atol=1e-6)


def test_pixel_matrix_projects_like_project():
    cam = random_camera(np.random.default_rng(4))
    pts = np.random.default_rng(5).normal(size=(50, 3))
    uv, depth = cam.project(pts)
    uvd = np.c_[pts, np.ones(len(pts))] @ cam.pixel_matrix().T
    np.testing.assert_allclose(uvd[:, 2], depth, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(uvd[:, :2] / uvd[:, 2:], uv, rtol=1e-9, atol=1e-9)


def test_look_at_centres_target_and_keeps_up():
    cam = Camera.from_fov(64, 64, math.radians(40), look_at([2.0, 1.0, 3.0], [0.1, 0.2, 0.0]))
    uv, depth = cam.project(np.array([[0.1, 0.2, 0.0], [0.1, 1.2, 0.0]]))
    np.testing.assert_allclose(uv[0], [32, 32], atol=1e-9)
    assert depth[0] > 0 and uv[1, 1] < 32  # world +y appears above the centre (v decreases)


def test_sphere_rigs_are_unit_spread_and_disjoint():
    d = sphere_directions(64)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1, atol=1e-12)
    assert abs(d.mean(0)).max() < 0.05  # balanced over the sphere
    h = sphere_directions(32, hemisphere=True, min_elevation_deg=10)
    assert np.degrees(np.arcsin(h[:, 1])).min() >= 10 - 1e-9
    train = np.array([c.center for c in orbit_cameras(64, 3, 40, 8, 8)])
    test = np.array([c.center for c in orbit_cameras(8, 3, 40, 8, 8, offset=0.25)])
    gap = np.linalg.norm(train[None] - test[:, None], axis=-1).min()
    assert gap > 1e-3


def test_downscale_keeps_rays():
    cam = random_camera(np.random.default_rng(4), w=64, h=48)
    small = cam.downscaled(4)
    assert (small.width, small.height) == (16, 12)
    p = np.array([[0.1, -0.2, 0.3]])
    np.testing.assert_allclose(small.project(p)[0] * 4, cam.project(p)[0], atol=1e-9)


def test_bad_camera_is_refused():
    with pytest.raises(RelightError):
        Camera(0, 10, 10, 10, 5, 5, np.eye(4))
    with pytest.raises(RelightError):
        Camera(10, 10, 10, 10, 5, 5, np.full((4, 4), np.nan))
