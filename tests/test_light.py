"""The light as a coarse log envmap plus a finer residual (relight.material.light)."""

import numpy as np
import pytest

from relight.material.fit import fit_material
from relight.material.light import light_log, split_gradient, upsample, upsample_adjoint
from relight.material.problem import RenderProblem
from relight.material.state import init_state, load_checkpoint, state_to_asset
from tests.test_material import tiny_cfg


def test_upsample_keeps_constants_and_its_adjoint_is_its_transpose():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(8, 16, 3)), rng.normal(size=(32, 64, 3))
    np.testing.assert_allclose(upsample(np.full((8, 16, 3), 1.5), (32, 64)), 1.5, rtol=1e-6)
    lhs = float((upsample(a, (32, 64)) * b).sum())
    rhs = float((a * upsample_adjoint(b, (8, 16))).sum())
    assert abs(lhs - rhs) < 1e-4 * abs(lhs)
    # azimuth wraps: a map that is smooth across the seam stays smooth across it
    x = np.cos(2 * np.pi * (np.arange(16) + 0.5) / 16)[None, :, None].repeat(8, 0)
    up = upsample(x, (32, 64))[..., 0]
    assert abs(up[:, 0] - up[:, -1]).max() < 0.05


def test_light_is_the_upsampled_coarse_map_plus_the_residual():
    p = {"log_env": np.zeros((4, 8, 3), np.float32), "env_detail": np.zeros((16, 32, 3), np.float32)}
    p["env_detail"][5, 7] = 3.0
    light = light_log(p)
    assert light.shape == (16, 32, 3) and light[5, 7, 0] == 3.0 and np.count_nonzero(light) == 3
    g = split_gradient(np.ones((16, 32, 3), np.float32), p)
    assert g["log_env"].shape == (4, 8, 3) and g["env_detail"].shape == (16, 32, 3)
    np.testing.assert_allclose(g["log_env"].sum(), 16 * 32 * 3, rtol=1e-5)  # area: sums preserved


def test_both_light_gradients_match_a_finite_difference(train, gt, cpu_backend):
    """d loss / d (uniform offset) of the coarse map and of the residual: each moves the rendered
    light by the same amount, so both prb gradients match one central difference."""
    cfg = tiny_cfg(spp=64, env_detail_width=64)
    st = init_state(cfg)
    st.params["env_detail"][:] = np.random.default_rng(0).normal(0, 0.1, st.params["env_detail"].shape)
    prob = RenderProblem(train, gt.mesh, cfg, cpu_backend, st.params)
    _, g = prob.loss_and_grads(st.params, [0, 1], np.random.default_rng(1))
    eps = 0.05

    def loss_at(delta):
        p = {k: v.copy() for k, v in st.params.items()}
        p["env_detail"] += delta
        return prob.loss_and_grads(p, [0, 1], np.random.default_rng(1))[0]

    fd = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    for key in ("log_env", "env_detail"):
        assert np.sign(g[key].sum()) == np.sign(fd)
        assert abs(g[key].sum() - fd) < 0.25 * abs(fd), key


def test_an_asset_light_is_kept_whole_and_resume_continues_exactly(train, gt, cpu_backend, tmp_path):
    """A start light finer than the coarse map survives in the residual; checkpoints carry it."""
    cfg = tiny_cfg(iterations=6, checkpoint_every=3, threads=1, levels=1, env_detail_width=64,
                   env_detail_l1=1e-3)
    env = np.full((32, 64, 3), 0.2, np.float32)
    env[6, 40] = 500.0  # a sun one fine texel wide
    start = init_state(cfg, gt.__class__(gt.mesh, gt.albedo, gt.roughness, env))
    np.testing.assert_allclose(state_to_asset(start, gt.mesh).envmap, env, rtol=1e-4)
    full = fit_material(train, gt.mesh, cfg, cpu_backend)
    ck = tmp_path / "ck"
    fit_material(train, gt.mesh, cfg, cpu_backend, checkpoint_dir=ck, stop_at=3)
    assert "env_detail" in load_checkpoint(ck, cfg).params
    resumed = fit_material(train, gt.mesh, cfg, cpu_backend, checkpoint_dir=ck, resume=True)
    np.testing.assert_array_equal(resumed.asset.envmap, full.asset.envmap)
    assert full.asset.envmap.shape == (32, 64, 3) and np.isfinite(full.asset.envmap).all()



def test_the_residual_prior_is_a_solid_angle_l1_norm():
    """``env_detail_l1``: value = w * sum(omega |d|), gradient = its derivative (finite difference),
    and it leaves the coarse light alone."""
    from relight.material.fit import regularize
    from relight.material.losses import latlong_weights

    cfg = tiny_cfg(env_detail_width=64, env_detail_l1=0.5, tv_albedo=0.0, tv_roughness=0.0, palette_albedo=0.0)
    p = init_state(cfg).params
    p["env_detail"][:] = np.random.default_rng(0).normal(0, 1, p["env_detail"].shape)
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    value = regularize(p, grads, cfg)
    omega = latlong_weights(*p["env_detail"].shape[:2])
    assert value == pytest.approx(0.5 * float((omega * np.abs(p["env_detail"])).sum()), rel=1e-5)
    q = {k: v.copy() for k, v in p.items()}
    q["env_detail"][3, 5, 1] += 1e-3
    fd = (regularize(q, {k: np.zeros_like(v) for k, v in q.items()}, cfg) - value) / 1e-3
    assert fd == pytest.approx(grads["env_detail"][3, 5, 1], rel=1e-3)
    assert not grads["log_env"].any()


def test_concentration_is_the_power_share_of_the_brightest_directions():
    """A uniform light puts 1 % of its power into 1 % of the sphere; a sun nearly all of it; the
    texels are weighted by solid angle (a bright polar row is a small share); the measure hardly
    changes with the map's resolution."""
    from relight.data.images import resize_area
    from relight.material.light import concentration

    uniform = np.ones((32, 64, 3), np.float32)
    assert concentration(uniform, 0.01) == pytest.approx(0.01, abs=1e-6)
    sun = uniform.copy()
    sun[10, 20] = 1e5
    assert concentration(sun, 0.01) > 0.98
    pole, equator = uniform.copy(), uniform.copy()
    pole[0] = 50.0
    equator[16] = 50.0
    assert concentration(pole, 0.01) < concentration(equator, 0.01)
    blob = uniform.copy()
    blob[8:12, 24:30] = 40.0  # a softbox a few degrees wide
    coarse = resize_area(blob, 8, 16)
    assert concentration(coarse, 0.01) == pytest.approx(concentration(blob, 0.01), abs=0.1)
    assert concentration(np.zeros((8, 16, 3), np.float32)) == 0.0


@pytest.mark.parametrize(("sun", "stop"), [(False, 4), (True, 2), (True, 4)])
def test_a_compact_light_restarts_the_fit_finer_and_resume_keeps_it(train, gt, cpu_backend, tmp_path, sun, stop):
    """``env_compact_width``: level 0 is a pilot; when the light it fitted is compact (a sun) the
    fit starts again with the finer light at every level, else it goes on with the default width;
    the decision is recorded, and a run stopped before or after it resumes exactly."""
    cfg = tiny_cfg(iterations=6, checkpoint_every=2, threads=1, levels=2, level_split=[0.5, 0.5],
                   env_width=32, env_compact_width=64, lr_env=1e-4)
    env = np.full((8, 16, 3), 0.5, np.float32)
    if sun:
        env[2, 5] = 3000.0
    init = gt.__class__(gt.mesh, gt.albedo, gt.roughness, env)
    full = fit_material(train, gt.mesh, cfg, cpu_backend, init=init)
    c = full.asset.info["light_concentration"]
    assert (c >= cfg.env_compact_share) == sun
    assert full.asset.envmap.shape[1] == (64 if sun else 32)
    assert len(full.losses) == cfg.iterations  # a restart drops the pilot's losses
    ck = tmp_path / "ck"
    fit_material(train, gt.mesh, cfg, cpu_backend, checkpoint_dir=ck, stop_at=stop, init=init)
    decided = load_checkpoint(ck, cfg).light_concentration
    assert decided is None if stop < 3 else decided == pytest.approx(c, abs=1e-4)
    resumed = fit_material(train, gt.mesh, cfg, cpu_backend, checkpoint_dir=ck, resume=True, init=init)
    np.testing.assert_array_equal(resumed.asset.envmap, full.asset.envmap)
    np.testing.assert_array_equal(resumed.asset.albedo, full.asset.albedo)


@pytest.mark.parametrize(("name", "compact"), [("studio", True), ("interior", True), ("courtyard", False),
                                               ("forest", False), ("city", False), ("venice_sunset", False)])
def test_real_lights_read_as_compact_or_soft(name, compact):
    """The built-in CC0 HDRIs at the pilot's 32-wide resolution: the studio's softboxes and the
    interior's window are compact light (``env_compact_share`` of the ``fast`` preset), the sky
    of a courtyard, a forest, a city and a cloudy sunset are not."""
    from pathlib import Path

    from relight.data.images import read_exr, resize_area
    from relight.material.config import PRESETS
    from relight.material.light import concentration

    env = read_exr(Path(__file__).resolve().parent.parent / "scenes/envmaps" / f"{name}.exr")[..., :3]
    c = concentration(resize_area(env, 16, 32))
    assert (c >= PRESETS["fast"].env_compact_share) == compact, c


def test_the_compact_pilot_stands_aside_where_it_cannot_act():
    """With one level (nothing to pilot on), a light already as wide, a fixed light or the light
    residual of ``env_detail_width``, ``env_compact_width`` is inactive instead of an error: a TOML
    written for those settings keeps working under the ``fast`` preset."""
    from relight.material.config import load_config

    assert load_config("fast").compact_pilot
    for over in ({"levels": 1, "level_split": [1.0]}, {"env_width": 256}, {"env_detail_width": 256},
                 {"fit_envmap": False}):
        assert not load_config("fast", **over).compact_pilot, over


def test_a_run_too_short_for_a_pilot_just_runs(train, gt, cpu_backend):
    """Two steps over three levels (a smoke run): no step before the last level or none in it, so
    no pilot and no decision; the run is the plain default."""
    cfg = tiny_cfg(iterations=2, levels=3, level_split=[0.98, 0.01, 0.01], env_width=32, env_compact_width=64)
    res = fit_material(train, gt.mesh, cfg, cpu_backend)
    assert "light_concentration" not in res.asset.info and len(res.losses) == 2
