"""The albedo's sparse fine residual (MaterialConfig.albedo_detail_res, relight.material.albedo)."""

import numpy as np
import pytest

from relight.material.albedo import (
    DETAIL,
    albedo_of,
    project_detail,
    resolve_into,
    shrink,
    split_gradient,
    upsample_texture,
    upsample_texture_adjoint,
)


def test_upsample_adjoint_and_constants():
    """The gradient split is the exact transpose of the upsampling (<U x, g> = <x, U^T g>), a
    constant texture upsamples to itself, and a wrapped texture has no seam at its border."""
    rng = np.random.default_rng(0)
    x = rng.random((8, 8, 3)).astype(np.float32)
    g = rng.random((13, 20, 3)).astype(np.float32)
    assert np.isclose((upsample_texture(x, (13, 20)) * g).sum(), (x * upsample_texture_adjoint(g, (8, 8))).sum(),
                      rtol=1e-5)
    assert np.allclose(upsample_texture(np.full((8, 8, 3), 0.3, np.float32), (16, 16)), 0.3, atol=1e-6)
    ramp = np.zeros((4, 4, 1), np.float32)
    ramp[:, 0] = 1.0  # column 0 of a wrapping texture: its fine neighbours on both sides see it
    up = upsample_texture(ramp, (4, 8))[0, :, 0]
    assert up[0] == up[1] and up[-1] == pytest.approx(up[2])


def test_gradient_split_matches_finite_differences():
    """d L / d coarse and d L / d residual of L = sum(w * albedo_of(p)) match central differences
    (inside [0, 1], where the clip is the identity)."""
    rng = np.random.default_rng(1)
    p = {"albedo": rng.uniform(0.3, 0.7, (4, 4, 3)).astype(np.float32),
         DETAIL: rng.uniform(-0.1, 0.1, (8, 8, 3)).astype(np.float32)}
    w = rng.standard_normal((8, 8, 3)).astype(np.float32)
    g = split_gradient(w, p)
    for key, idx in (("albedo", (1, 2, 0)), (DETAIL, (5, 3, 2))):
        q1 = {k: v.astype(np.float64).copy() for k, v in p.items()}
        q2 = {k: v.astype(np.float64).copy() for k, v in p.items()}
        q1[key][idx] += 1e-3
        q2[key][idx] -= 1e-3
        fd = ((w * albedo_of(q1)).sum() - (w * albedo_of(q2)).sum()) / 2e-3
        assert g[key][idx] == pytest.approx(fd, rel=1e-3, abs=1e-4)


def test_projection_and_resolve_keep_the_sum_valid():
    """After `project_detail` the rendered sum lies in [0, 1] without clipping; `resolve_into` makes
    the parameters render a given albedo (the coarse texture its area mean, the residual the rest)."""
    rng = np.random.default_rng(2)
    p = {"albedo": rng.uniform(0, 1, (8, 8, 3)).astype(np.float32),
         DETAIL: rng.uniform(-1, 1, (16, 16, 3)).astype(np.float32)}
    project_detail(p)
    s = upsample_texture(p["albedo"], (16, 16)) + p[DETAIL]
    assert s.min() >= -1e-6 and s.max() <= 1 + 1e-6
    target = rng.uniform(0.1, 0.9, (16, 16, 3)).astype(np.float32)
    resolve_into(p, target)
    assert np.abs(albedo_of(p) - target).max() < 1e-5
    assert np.allclose(p["albedo"], target.reshape(8, 2, 8, 2, 3).mean((1, 3)), atol=1e-6)
    x = np.array([-2.0, -0.1, 0.0, 0.05, 1.0], np.float32)
    shrink(x, 0.2)
    assert np.allclose(x, [-1.8, 0.0, 0.0, 0.0, 0.8])


def test_shrink_keeps_noise_out_and_lets_a_consistent_gradient_through():
    """The property the residual's proximal prior exists for, under the stage's Adam: texels whose
    gradient is zero-mean noise (Monte Carlo) stay near zero with a per-step shrink of a quarter of
    the learning rate, where without it they wander; texels whose gradient keeps its sign (an
    edge the coarse texture cannot make; here per-step SNR 0.3) still move half way or more."""
    from relight.material.optim import Adam

    rng = np.random.default_rng(3)
    lr, n = 0.05, 4096
    runs = {}
    for share in (0.0, 0.25):
        x = {DETAIL: np.zeros((n, 1, 1), np.float32)}
        adam = Adam({DETAIL: lr}, masked=(DETAIL,))
        for _ in range(300):
            g = rng.standard_normal((n, 1, 1)).astype(np.float32)
            g[: n // 2] += 0.3 * np.sign(x[DETAIL][: n // 2] - 0.3)  # first half: pulled to 0.3
            adam.step(x, {DETAIL: g})
            shrink(x[DETAIL], share * lr)
        runs[share] = x[DETAIL][:, 0, 0]
    assert np.abs(runs[0.25][n // 2:]).mean() < 0.1 * np.abs(runs[0.0][n // 2:]).mean()
    assert runs[0.25][: n // 2].mean() > 0.15


def test_smoothness_acts_on_the_rendered_albedo():
    """TV acts on the albedo rendered: a residual that adds texel noise to a flat coarse texture is
    pulled back (its TV gradient opposes the noise), and without a residual the term is the plain
    TV of the texture."""
    from relight.material.config import MaterialConfig
    from relight.material.fit import regularize
    from relight.material.losses import tv_l1

    rng = np.random.default_rng(4)
    cfg = MaterialConfig(tv_albedo=0.05, tv_roughness=0.0, palette_albedo=0.0, tex_res=8, albedo_detail_res=16)
    noise = rng.uniform(-0.05, 0.05, (16, 16, 3)).astype(np.float32)
    p = {"albedo": np.full((8, 8, 3), 0.5, np.float32), DETAIL: noise, "roughness": np.full((8, 8, 1), 0.5, np.float32),
         "log_env": np.zeros((4, 8, 3), np.float32)}
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    regularize(p, grads, cfg)
    assert (grads[DETAIL] * noise).sum() > 0  # a gradient step lowers the noise
    q = {k: v for k, v in p.items() if k != DETAIL}
    gq = {k: np.zeros_like(v) for k, v in q.items()}
    regularize(q, gq, cfg)
    assert np.allclose(gq["albedo"], 0.05 * tv_l1(q["albedo"])[1])


def test_material_stage_fits_a_residual(train, gt, cpu_backend):
    """With `albedo_detail_res` the stage returns albedo at the residual's side and roughness at
    `tex_res`; with `texel_px` only the residual's side is raised; the output is finite."""
    from relight.material.config import MaterialConfig
    from relight.material.fit import fit_material, with_texel_density

    cfg = MaterialConfig(iterations=4, batch_views=1, spp=2, max_depth=2, tex_res=16, env_width=16, levels=2,
                         level_split=[0.5, 0.5], albedo_detail_res=32, refine_at=[0.5], refine_passes=0,
                         checkpoint_every=0, average_last=0.5, shared_warmup=0.25)
    res = fit_material(train, gt.mesh, cfg, cpu_backend)
    assert res.asset.albedo.shape[:2] == (32, 32) and res.asset.roughness.shape == (16, 16)
    assert np.isfinite(res.asset.albedo).all() and 0 <= res.asset.albedo.min() and res.asset.albedo.max() <= 1
    raised = with_texel_density(MaterialConfig(tex_res=16, albedo_detail_res=16, texel_px=0.5, max_tex_res=512,
                                               levels=1, level_split=[1.0]), train, gt.mesh)
    assert raised.tex_res == 16 and raised.albedo_detail_res > 16
    with pytest.raises(ValueError, match="albedo_detail_res"):
        MaterialConfig(tex_res=64, albedo_detail_res=32)


def test_resume_with_a_residual_continues_exactly(train, gt, cpu_backend, tmp_path):
    """The residual and its Adam moments travel in the checkpoint: an interrupted and resumed fit
    ends bitwise where the uninterrupted one does."""
    from relight.material.config import MaterialConfig
    from relight.material.fit import fit_material

    cfg = MaterialConfig(iterations=6, batch_views=1, spp=2, max_depth=2, tex_res=16, env_width=16, levels=2,
                         level_split=[0.5, 0.5], albedo_detail_res=32, checkpoint_every=3, threads=1,
                         shared_warmup=0.2, average_last=0.5, refine_passes=0)
    full = fit_material(train, gt.mesh, cfg, cpu_backend)
    ck = tmp_path / "ck"
    fit_material(train, gt.mesh, cfg, cpu_backend, checkpoint_dir=ck, stop_at=3)
    resumed = fit_material(train, gt.mesh, cfg, cpu_backend, checkpoint_dir=ck, resume=True)
    np.testing.assert_array_equal(resumed.asset.albedo, full.asset.albedo)
    assert resumed.losses == full.losses
    assert full.asset.info["albedo_detail"]["side"] == 32


def test_init_from_an_asset_keeps_its_fine_albedo(gt):
    """Started from an asset, the coarse texture and the residual together render that asset's
    albedo at the residual's side (the residual is not dropped to zero)."""
    from relight.data.images import resize_area
    from relight.material.config import MaterialConfig
    from relight.material.state import init_state

    cfg = MaterialConfig(tex_res=16, albedo_detail_res=64, levels=1, level_split=[1.0])
    st = init_state(cfg, gt)
    want = np.clip(resize_area(gt.albedo, 64, 64), 0, 1)
    assert st.params[DETAIL].shape == (64, 64, 3) and st.params["albedo"].shape == (16, 16, 3)
    assert np.abs(albedo_of(st.params) - want).max() < 1e-5
