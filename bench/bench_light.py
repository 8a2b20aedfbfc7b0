"""Light-estimation diagnostic of the material stage: how far the fitted envmap is from GT.

Usage: .venv/bin/python bench/bench_light.py [--iterations 1000] [--set KEY=JSON ...]
Fits spot (GT mesh, the 256² / 64-view capture of bench_material.py, which must exist) and, at
snapshots, prints the **diffuse irradiance error** of the fitted light: irradiance E(n) over 2000
random normals from the fitted and the GT envmap (cosine-weighted integrals over the lat-long
texels), per-channel least-squares scale removed, RMS error relative to the GT mean. A diffuse
albedo absorbs exactly this error, so it bounds the albedo error the light leaves. At the end it
prints the albedo PSNR in texture space (used texels, per-channel scale-aligned) and the spread
(std) of the albedo over the GT's white material, where GT is constant.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from scipy.ndimage import binary_erosion

from relight.data.asset import load_asset
from relight.data.capture_io import load_capture
from relight.data.images import resize_area
from relight.evaluation.metrics import channel_scale, psnr
from relight.material.config import load_config
from relight.material.fit import fit_material
from relight.material.losses import latlong_weights
from relight.material.uv import uv_coverage
from relight.runtime.backend import select_backend


def irradiance(env: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(N, 3) diffuse irradiance of unit ``normals`` (N, 3) under a lat-long ``env`` (H, W, 3)."""
    h, w = env.shape[:2]
    theta, phi = np.meshgrid((np.arange(h) + 0.5) / h * np.pi, (np.arange(w) + 0.5) / w * 2 * np.pi, indexing="ij")
    d = np.stack([np.sin(theta) * np.sin(phi), np.cos(theta), -np.sin(theta) * np.cos(phi)], -1).reshape(-1, 3)
    dw = 4 * np.pi * latlong_weights(h, w).ravel()  # solid angle per texel (sr)
    return np.maximum(normals @ d.T, 0) @ (env.reshape(-1, 3) * dw[:, None])


def irradiance_error(gt_env: np.ndarray, fit_env: np.ndarray, n: int = 2000) -> float:
    """Relative RMS diffuse-irradiance error of ``fit_env`` against ``gt_env`` (scale-aligned)."""
    normals = np.random.default_rng(0).normal(size=(n, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    eg = irradiance(resize_area(gt_env, 64, 128), normals)
    ef = irradiance(fit_env, normals)
    s = channel_scale(ef, eg, np.ones(n, bool))
    return float(np.sqrt(((ef * s - eg) ** 2).mean(0)).mean() / eg.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--capture", default="out/bench/spot_256_64")
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--snapshots", default="0.3,0.6,1.0", help="shares of the run at which to report")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    a = ap.parse_args()
    backend = select_backend("cpu")
    cap_dir = Path(a.capture)
    train, gt = load_capture(cap_dir, "train"), load_asset(cap_dir / "gt")
    sets = {k: json.loads(v) for k, v in (x.split("=", 1) for x in a.set)}
    cfg = load_config("fast", iterations=a.iterations, **sets)
    ckpt = Path(tempfile.mkdtemp())
    try:
        for i, share in enumerate(float(x) for x in a.snapshots.split(",")):
            stop = max(1, round(share * a.iterations))
            res = fit_material(train, gt.mesh, cfg, backend, checkpoint_dir=ckpt, resume=i > 0, stop_at=stop)
            print(f"step {stop}: irradiance error {irradiance_error(gt.envmap, res.asset.envmap):.4f}", flush=True)
    finally:
        shutil.rmtree(ckpt, ignore_errors=True)
    b = res.asset.albedo
    a_gt = resize_area(gt.albedo, *b.shape[:2])
    cov = uv_coverage(gt.mesh, b.shape[0])
    white = binary_erosion((a_gt.mean(-1) > 0.7) & cov, iterations=3)
    albedo_psnr = psnr(b * channel_scale(b, a_gt, cov), a_gt, cov)
    print(f"settings {sets}: albedo PSNR (texture, used texels) {albedo_psnr:.2f} dB; "
          f"white-material std {np.round(b[white].std(0), 3).tolist()}")


if __name__ == "__main__":
    main()
