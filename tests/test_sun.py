"""The envmap's peak split off as a directional source (relight.render.sun): directions as Mitsuba
reads the map, energy kept, a coarse sun rendered closer to a fine one, gradients through the split."""

import numpy as np
import pytest

from relight.data.asset import load_asset
from relight.data.capture_io import load_capture
from relight.render.sun import rotate_y, split_sun, texel_directions, texel_solid_angles


def _sky_with_sun(h, w, row, col, sun=400.0):
    """A smooth sky (brighter up) with one bright texel at (row, col)."""
    theta = (np.arange(h) + 0.5) / h * np.pi
    env = np.repeat((0.4 + 0.3 * np.cos(theta))[:, None, None], w, 1) * np.array([0.8, 0.9, 1.0], np.float32)
    env = np.ascontiguousarray(env, dtype=np.float32)
    env[row, col] = sun
    return env


def _energy(env):
    return (env * texel_solid_angles(*env.shape[:2])[..., None]).sum((0, 1))


@pytest.mark.parametrize("rotation", [0.0, 40.0])
def test_texel_directions_match_mitsubas_envmap(cpu_backend, rotation):
    import drjit as dr

    from relight.render.mitsuba import envmap_dict

    mi = cpu_backend.mitsuba()
    h, w = 16, 32
    d = np.random.default_rng(0).normal(size=(60000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    si = dr.zeros(mi.SurfaceInteraction3f, len(d))
    si.wi = mi.Vector3f(*(-d.T))
    for row, col in [(3, 7), (9, 25), (12, 2)]:
        env = np.full((h, w, 3), 0.01, np.float32)
        env[row, col] = 100.0
        val = np.array(mi.load_dict(envmap_dict(mi, env, rotation)).eval(si))
        brightest = d[np.argmax(val.reshape(-1, 3)[:, 0] if val.shape[0] == len(d) else val[0])]
        ours = rotate_y(texel_directions(h, w)[row, col], rotation)
        assert np.degrees(np.arccos(np.clip(ours @ brightest, -1, 1))) < 3.0  # texels are 11.25° wide


def test_split_keeps_the_energy_and_finds_a_small_sun():
    h, w = 32, 64
    env = _sky_with_sun(h, w, 9, 40)
    sky, irr, direction = split_sun(env)
    np.testing.assert_allclose(_energy(sky) + irr, _energy(env), rtol=1e-5)
    added = (400.0 - env[9, 41]) * texel_solid_angles(h, w)[9, 0]
    assert np.all(irr > 0.9 * added)
    assert np.degrees(np.arccos(direction @ texel_directions(h, w)[9, 40])) < 1.0
    assert np.all(sky <= env + 1e-6) and sky[9, 40, 0] < 1.0
    # a soft light: nothing rises above its surroundings, hardly any energy moves
    soft = _sky_with_sun(h, w, 9, 40, sun=0.0)
    soft[9, 40] = soft[9, 41] * 1.2
    _, irr_soft, _ = split_sun(soft)
    assert np.all(irr_soft < 0.01 * _energy(soft))


def test_a_coarse_sun_split_off_renders_closer_to_the_fine_light(tiny_capture, cpu_backend):
    """What the split is for: a 64-wide light holding a small sun in one texel, rendered with the
    split, is nearer the fine light's render (a 1.6° disc at 512 wide) than when Mitsuba spreads
    that texel bilinearly over ~11°. Sun only and a rough material, so what differs is shading and
    shadows (not a highlight's peak pixel). Compared by the squared bias: the squared error of the
    two-seed means less their noise, estimated from seed-to-seed differences (every render has
    its own seeds: shared seeds would correlate two envmap renders' noise and favour them).
    Measured 2.6e-6 (split) against 6.7e-6 (bilinear)."""
    from dataclasses import replace

    from relight.render.mitsuba import build_scene, render_views

    gt = load_asset(tiny_capture / "gt")
    gt = replace(gt, roughness=np.ones_like(gt.roughness), envmap_rotation_deg=0.0)
    cams = [c.scaled(96, 96) for c in load_capture(tiny_capture, "test").cameras[:2]]
    # the sun from the side of the first view (its terminator crosses the object), placed on a coarse
    # texel's own direction (no resampling shift between the two maps)
    side = cams[0].c2w[:3, 0] + 0.3 * cams[0].c2w[:3, 1]
    dirs = texel_directions(32, 64)
    r, c = np.unravel_index(np.argmax(dirs @ (side / np.linalg.norm(side))), (32, 64))
    sun_dir = dirs[r, c]
    fine = np.zeros((256, 512, 3), np.float32)
    fine[(texel_directions(256, 512) @ sun_dir) > np.cos(np.radians(0.8))] = 3000.0
    energy = (fine * texel_solid_angles(256, 512)[..., None]).sum((0, 1))
    coarse = np.zeros((32, 64, 3), np.float32)
    coarse[r, c] = energy / texel_solid_angles(32, 64)[r, 0]
    seeds = iter(range(1, 100))

    def pair(env, sun):
        scene = build_scene(cpu_backend, replace(gt, envmap=env), 3, sun=sun)
        return [render_views(cpu_backend, scene, cams, 256, seed=next(seeds))[..., :3] for _ in range(2)]

    ref, blurred, split = pair(fine, False), pair(coarse, False), pair(coarse, True)
    m = (ref[0][..., :1] > 0) | (blurred[0][..., :1] > 0)
    sq = lambda x, y: float((((x - y) * m) ** 2).sum() / (3 * m.sum()))  # noqa: E731
    noise = {id(p): sq(*p) / 2 for p in (ref, blurred, split)}
    bias2 = lambda p: sq(p[0] + p[1], ref[0] + ref[1]) / 4 - (noise[id(p)] + noise[id(ref)]) / 2  # noqa: E731
    assert bias2(split) < 0.5 * bias2(blurred)


def test_gradient_through_the_split_matches_finite_differences(tiny_capture, cpu_backend):
    """d loss / d (global log-light offset) with the sun split off: the prb gradient, carried back
    to the texels through both the sky and the sun, against a central difference (same seeds)."""
    from relight.material.config import MaterialConfig
    from relight.material.problem import RenderProblem
    from relight.material.state import init_state

    train = load_capture(tiny_capture, "train")
    gt = load_asset(tiny_capture / "gt")
    cfg = MaterialConfig(iterations=10, spp=64, max_depth=3, tex_res=32, env_width=16, levels=1, sun=True,
                         checkpoint_every=0)
    st = init_state(cfg)
    st.params["log_env"][2, 5] = np.log(60.0)  # a peak that rises far above its ring
    prob = RenderProblem(train, gt.mesh, cfg, cpu_backend, st.params)
    _, g = prob.loss_and_grads(st.params, [0, 1], np.random.default_rng(1))
    assert np.abs(g["log_env"][2, 5]).sum() > 0  # the sun's texel is reached through the sun
    analytic = g["log_env"].sum()

    def loss_at(delta):
        p = {k: v.copy() for k, v in st.params.items()}
        p["log_env"] += delta
        return prob.loss_and_grads(p, [0, 1], np.random.default_rng(1))[0]

    eps = 0.05
    fd = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    assert np.sign(fd) == np.sign(analytic)
    assert abs(analytic - fd) < 0.25 * abs(fd)
