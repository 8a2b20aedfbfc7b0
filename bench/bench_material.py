"""Benchmark the material stage on a built-in scene with its ground-truth mesh.

Usage: .venv/bin/python bench/bench_material.py [--scene spot] [--preset fast] [--res 256]
       [--views 64] [--iterations N] [--eval-spp 256] [--out results/material]
Synthesizes the capture once into out/bench/<scene>_<res> (reused), fits albedo, roughness and
the envmap with ``fit_material``, evaluates on the test split (protocol in relight/evaluate.py)
and writes ``<out>.json`` / ``<out>.md`` plus the loss curve and the recovered textures.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from relight.commands.common import preset_for
from relight.commands.output import plot_losses
from relight.data.asset import save_asset
from relight.data.capture_io import load_capture
from relight.evaluation.evaluate import evaluate
from relight.material.config import load_config
from relight.material.fit import fit_material
from relight.render.mitsuba import build_scene, render_views
from relight.render.scene import load_scene
from relight.render.synth import synthesize
from relight.runtime.backend import select_backend

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_synth import cpu_name  # noqa: E402  (same folder)


def primal_seconds(backend, asset, cam, spp: int, repeats: int = 5) -> float:
    """Median wall time of a plain render (``prb`` scene, no gradients) after a warm-up."""
    import drjit as dr

    scene = build_scene(backend, asset, 3, integrator="prb")
    times = []
    for i in range(repeats + 1):
        t = time.perf_counter()
        render_views(backend, scene, [cam], spp, seed=i)
        dr.sync_thread()
        times.append(time.perf_counter() - t)
    return float(np.median(times[1:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scene", default="spot")
    ap.add_argument("--preset", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--views", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--eval-spp", type=int, default=256)
    ap.add_argument("--out", default="results/material")
    ap.add_argument("--gt-light", action="store_true",
                    help="diagnostic: keep the GT envmap fixed (256x128, one level) and fit only the textures, "
                         "to separate light estimation from the rest of the material stage")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a MaterialConfig field, e.g. --set tv_albedo=0.5 (repeatable)")
    a = ap.parse_args()
    backend = select_backend(a.device)
    preset = preset_for(backend, a.preset)
    cap_dir = Path("out/bench") / f"{a.scene}_{a.res}_{a.views}"
    if not (cap_dir / "transforms_test.json").is_file():
        shutil.rmtree(cap_dir, ignore_errors=True)
        synthesize(load_scene(a.scene).with_overrides(res=a.res, views=a.views), cap_dir, backend)
    train, test = load_capture(cap_dir, "train"), load_capture(cap_dir, "test")
    from relight.data.asset import load_asset

    gt = load_asset(cap_dir / "gt")
    sets = {k: json.loads(v) for k, v in (x.split("=", 1) for x in a.set)}
    init = None
    if a.gt_light:
        from dataclasses import replace

        import numpy as np

        sets = {"fit_envmap": False, "levels": 1, "level_split": [1.0], "env_width": 256, "shared_warmup": 0.0,
                **sets}
        init = replace(gt, albedo=np.full_like(gt.albedo, 0.5), roughness=np.full_like(gt.roughness, 0.5))
    cfg = load_config(preset, iterations=a.iterations, **sets)
    t = time.perf_counter()
    res = fit_material(train, gt.mesh, cfg, backend, init=init)
    fit_s = time.perf_counter() - t
    primal = primal_seconds(backend, res.asset, train.cameras[0], cfg.spp)
    t = time.perf_counter()
    ev = evaluate(res.asset, test, backend, spp=a.eval_spp)
    eval_s = time.perf_counter() - t
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_asset(res.asset, out.parent / f"{out.name}_asset")
    plot_losses(res.losses, out.parent / f"{out.name}_loss.png", f"{a.scene}: material stage ({preset})")
    row = {"scene": a.scene, "preset": preset, "device": backend.describe(), "cpu": cpu_name(),
           "train_views": len(train), "res": a.res, "iterations": cfg.iterations, "spp": cfg.spp,
           "spp_grad": cfg.spp_grad or cfg.spp,
           "tex_res": cfg.tex_res, "env_width": cfg.env_width, "fit_seconds": round(fit_s, 1),
           "seconds_per_step": round(res.seconds_per_step, 4), "primal_seconds": round(primal, 4),
           "step_over_primal": round(res.seconds_per_step / primal, 2), "eval_seconds": round(eval_s, 1),
           "eval_spp": a.eval_spp, "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
           "date": time.strftime("%Y-%m-%d"), "metrics": ev.to_json()}
    out.with_suffix(".json").write_text(json.dumps(row, indent=2) + "\n")
    rp = ev.relight_psnr
    lines = [f"# Material stage benchmark: {a.scene}, GT mesh ({row['date']})", "",
             f"Device: {row['device']}; CPU: {row['cpu']}. Capture: {len(train)} train views at {a.res}², "
             f"{len(test)} test views, {len(rp)} relit sets. Preset `{preset}`: {cfg.iterations} steps, "
             f"{cfg.spp} spp ({cfg.spp_grad or cfg.spp} in the adjoint pass), textures {cfg.tex_res}², envmap {cfg.env_width}×{cfg.env_width // 2}.",
             f"Reproduce: `.venv/bin/python bench/bench_material.py --scene {a.scene} --res {a.res} "
             f"--views {a.views}" + (f" --iterations {a.iterations}" if a.iterations else "")
             + (" --gt-light" if a.gt_light else "") + "".join(f" --set {x}" for x in a.set) + "`", "",
             "| figure | value | target |", "|---|---|---|",
             f"| albedo PSNR (scale-aligned) | {ev.albedo_psnr:.2f} dB | ≥ 30 dB |",
             f"| albedo SSIM | {ev.albedo_ssim:.3f} | |",
             f"| roughness MAE | {ev.roughness_mae:.3f} | |",
             *[f"| relight PSNR {k} | {v:.2f} dB | ≥ 30 dB |" for k, v in rp.items()],
             f"| relight PSNR mean | {ev.relight_psnr_mean:.2f} dB | ≥ 30 dB on ≥ 3 envmaps |",
             f"| novel-view PSNR | {ev.novel_view_psnr:.2f} dB | |",
             f"| fit wall time | {fit_s:.0f} s | ≤ 600 s |",
             f"| seconds per step (full resolution) | {res.seconds_per_step:.3f} s | |",
             f"| one primal render, same spp | {primal:.3f} s | |",
             f"| step / primal | {res.seconds_per_step / primal:.2f}× | ≤ 3× |",
             f"| evaluation ({a.eval_spp} spp) | {eval_s:.0f} s | |", ""]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
