"""The relight metric without the renders' Monte Carlo noise (metrics.noise_free_mse,
evaluate(..., reference=...), `relight eval --noise-free`)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from relight.evaluation.metrics import NOISE_FREE_CAP_DB, noise_free_mse, noise_free_psnr


def test_noise_free_mse_recovers_the_squared_bias():
    """Gaussian noise on both sides: the estimate is the squared bias, the raw MSE is not."""
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.2, 0.8, (8, 128, 128, 3))
    bias = 0.04 * np.sin(np.arange(128) / 5)[None, :, None, None]
    mask = np.ones((8, 128, 128), bool)

    def noisy(x, s):
        return x + rng.normal(0, s, x.shape)

    pred, twin = noisy(truth + bias, 0.08), noisy(truth + bias, 0.08)
    ref, ra, rb = noisy(truth, 0.05), noisy(truth, 0.05), noisy(truth, 0.05)
    want = float(np.mean(bias**2))
    raw = float(np.mean((pred - ref) ** 2))
    est = noise_free_mse(pred, twin, ref, ra, rb, mask)
    assert raw > 10 * want  # the noise dominates the raw metric
    assert est == pytest.approx(want, rel=0.15)
    assert noise_free_psnr(-1e-5) == NOISE_FREE_CAP_DB


@pytest.fixture(scope="module")
def test_split(tiny_capture):
    from relight.data.capture_io import load_capture

    return load_capture(tiny_capture, "test")


def test_noise_free_relight_matches_converged_renders(cpu_backend, tiny_capture, test_split, gt):
    """On the tiny capture (16-spp references): the GT scene's noise-free score is far above its
    raw one (pure noise), and a wrong asset's noise-free estimate (64-spp renders, 16-spp references) is within
    1.5 dB of its error against the reference rendered converged (1024 spp), where the raw
    metric is several dB off."""
    from relight.commands.common import reference_of
    from relight.data.images import linear_to_srgb, read_envmap
    from relight.evaluation.evaluate import evaluate
    from relight.render.mitsuba import build_scene, render_views

    ref = reference_of(tiny_capture, test_split)
    assert ref.spp == 16
    ev = evaluate(gt, test_split, cpu_backend, spp=16, reference=ref)
    for k in ev.relight_psnr:
        assert ev.relight_psnr_noise_free[k] > ev.relight_psnr[k] + 10, (k, ev.relight_psnr, ev.relight_psnr_noise_free)
    h, w = gt.albedo.shape[:2]
    wrong = replace(gt, albedo=(gt.albedo * np.where(np.arange(w) < w // 2, 0.6, 1.0)[None, :, None]).astype(np.float32))
    ev2 = evaluate(wrong, test_split, cpu_backend, spp=64, reference=ref)
    mask = np.asarray(test_split.masks) > 0.5
    aligned = replace(wrong, albedo=np.clip(wrong.albedo * np.asarray(ev2.albedo_scale), 0, 1).astype(np.float32))
    for name, rv in test_split.relit.items():
        env = read_envmap(rv.envmap)
        conv = [linear_to_srgb(render_views(cpu_backend, build_scene(cpu_backend, a.with_envmap(env, rv.rotation_deg), test_split.max_depth),
                                            test_split.cameras, 1024, seed=99)[..., :3]) for a in (aligned, gt)]
        converged = -10 * np.log10(np.mean((conv[0][mask] - conv[1][mask]) ** 2))
        assert abs(ev2.relight_psnr_noise_free[name] - converged) < 1.5, (name, ev2.relight_psnr_noise_free, converged)
        assert converged - ev2.relight_psnr[name] > 3, (name, ev2.relight_psnr, converged)


def test_reference_spp_read_and_scaled(tiny_capture, test_split, tmp_path):
    """The loader records a synthetic test split's `test_spp` as the references' samples per
    pixel, times d² when area-downscaled by d (a downscaled pixel averages d² pixels' samples);
    a train split and a bad value: None, and a one-line error."""
    import shutil

    from relight.data.capture_io import load_capture
    from relight.runtime.errors import RelightError

    assert test_split.reference_spp == 16
    assert load_capture(tiny_capture, "test", downscale=2).reference_spp == 64
    assert load_capture(tiny_capture, "train").reference_spp is None
    cap = tmp_path / "cap"
    shutil.copytree(tiny_capture, cap)
    tf = cap / "transforms_test.json"
    meta = json.loads(tf.read_text())
    meta["relight"]["spec"]["cameras"]["test_spp"] = "many"
    tf.write_text(json.dumps(meta))
    with pytest.raises(RelightError, match="test_spp"):
        load_capture(cap, "test")


def _relight(argv, capsys):
    from cli.main import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out + out.err


def test_eval_noise_free_cli(tiny_capture, tmp_path, capsys):
    """`relight eval --noise-free` writes the estimate; a capture without its GT scene is refused
    with one line, exit 2, nothing written."""
    import shutil

    code, out = _relight(["eval", str(tiny_capture / "gt"), str(tiny_capture), "--spp", "4", "--noise-free",
                          "-q", "--device", "cpu", "-o", str(tmp_path / "e")], capsys)
    assert code == 0, out
    d = json.loads((tmp_path / "e.json").read_text())
    assert set(d["relight_psnr_noise_free"]) == set(d["relight_psnr"]) and d["relight_psnr_noise_free_mean"] > 0
    cap = tmp_path / "cap"
    shutil.copytree(tiny_capture, cap, ignore=shutil.ignore_patterns("gt"))
    code, out = _relight(["eval", str(tiny_capture / "gt"), str(cap), "--noise-free", "-q", "--device", "cpu",
                          "-o", str(tmp_path / "f")], capsys)
    assert code == 2 and "gt/asset.json" in out and len(out.strip().splitlines()) == 1, out
    assert not list(tmp_path.glob("f*"))
