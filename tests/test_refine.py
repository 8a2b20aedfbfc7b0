"""Albedo refinement (relight.material.refine): the splat is the adjoint of the lookup, the ratio step
keeps what it should keep, and on a tiny scene a wrong albedo moves to the data under the GT light."""

from dataclasses import replace

import numpy as np

from relight.data.asset import load_asset
from relight.data.capture_io import load_capture
from relight.data.images import resize_area
from relight.material.refine import ratio_update, refine_albedo, splat_bilinear
from relight.render.textures import sample_bilinear


def test_splat_is_the_adjoint_of_bilinear_lookup():
    rng = np.random.default_rng(0)
    tex = rng.random((6, 9, 3))
    uv = rng.random((200, 2)) * 1.4 - 0.2  # also outside [0, 1]: repeat wrapping
    vals = rng.random((200, 3))
    lhs = (sample_bilinear(tex, uv).astype(np.float64) * vals).sum()
    rhs = (tex * splat_bilinear(uv, vals, 6, 9)).sum()
    assert lhs == np.float64(lhs) and abs(lhs - rhs) < 1e-4 * abs(lhs)


def test_ratio_update_fixed_point_unseen_texels_and_range():
    rng = np.random.default_rng(1)
    a = rng.random((8, 8, 3)).astype(np.float32) * 0.8
    den = rng.random((8, 8, 3)) + 0.5
    den[:2] = 0.0  # never seen
    out, change = ratio_update(a, den.copy(), den, blur=0.0)
    np.testing.assert_allclose(out, a, atol=1e-6)  # observed == rendered: nothing moves
    assert change < 1e-6
    out, change = ratio_update(a, 1.5 * den, den, damping=0.0, blur=0.0)
    np.testing.assert_allclose(out[2:], np.clip(1.5 * a[2:], 0, 1), atol=1e-6)
    np.testing.assert_array_equal(out[:2], a[:2])  # unseen texels keep their value
    assert change > 0.49
    out, _ = ratio_update(a, 1e6 * den, den, blur=0.0)
    assert out.max() <= 1.0  # albedo stays physical


def test_refinement_moves_a_wrong_albedo_toward_gt(tiny_capture, cpu_backend):
    """GT mesh and light; the training views re-rendered from a 32² albedo (so a 32² texture can
    explain them exactly). From that albedo scaled wrongly per channel and region (x0.6 on the
    top half, x0.7 green, x1.6 red clipped to 1), four passes must cut the median relative texel
    error >= 4x (measured 0.40 -> 0.098) over the texels the 6 views of 32² see (those the refinement changed) and
    leave every channel's median within 5 % of GT."""
    from relight.render.mitsuba import build_scene, render_views

    train = load_capture(tiny_capture, "train")
    gt = load_asset(tiny_capture / "gt")
    n = 32
    truth = replace(gt, albedo=resize_area(gt.albedo, n, n), roughness=resize_area(gt.roughness[..., None], n, n)[..., 0])
    imgs = render_views(cpu_backend, build_scene(cpu_backend, truth, 3), train.cameras, 256)
    train = replace(train, images=imgs[..., :3] * (train.masks[..., None] > 0))
    wrong = np.clip(truth.albedo * np.float32([1.6, 0.7, 1.0]), 0, 1)
    wrong[: n // 2] *= 0.6
    out, st = refine_albedo(train, replace(truth, albedo=wrong), cpu_backend, passes=4, spp=32, blur=0.0,
                            damping=0.01)
    seen = (np.abs(out.albedo - wrong) > 1e-6).any(-1)
    assert seen.mean() > 0.2

    def rel(a):
        return a[seen] / np.maximum(truth.albedo[seen], 1e-3)

    before, after = np.median(np.abs(rel(wrong) - 1)), np.median(np.abs(rel(out.albedo) - 1))
    assert after < before / 4, (before, after)
    np.testing.assert_allclose(np.median(rel(out.albedo), 0), 1.0, atol=0.05)
    assert len(st.change) == 4 and st.change[-1] < st.change[0] / 2  # the passes settle


def test_material_pooling_does_not_cross_albedo_edges():
    """Two materials side by side whose data ask for different corrections (x1.5 and x0.5):
    pooled over a wide neighbourhood by albedo similarity, each keeps its own ratio, while a
    plain Gaussian of the same width mixes them at the edge."""
    from relight.material.refine import pool_by_material

    a = np.full((16, 16, 3), 0.8, np.float32)
    a[:, 8:] = 0.1
    den = np.random.default_rng(2).random((16, 16, 3)) + 0.5
    num = den * np.where(np.arange(16)[None, :, None] < 8, 1.5, 0.5)
    pn, pd = pool_by_material(a, [num, den], radius=3.0, colour_sigma=0.05)
    np.testing.assert_allclose((pn / pd)[:, 1:7], 1.5, rtol=1e-3)  # away from the wrapped border
    np.testing.assert_allclose((pn / pd)[:, 9:15], 0.5, rtol=1e-3)
    plain, _ = ratio_update(a, num, den, damping=0.0, blur=3.0)
    assert abs(plain[0, 7, 0] / a[0, 7, 0] - 1.5) > 0.1  # the Gaussian leaks across the edge
