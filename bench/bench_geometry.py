"""Benchmark the geometry stage, the CPU raster backend and the full ``relight fit``.

Usage: .venv/bin/python bench/bench_geometry.py [--parts raster,spot,fit,lego] [--out results/geometry]

* ``raster`` — ms per rasterize + interpolate + antialias + backward of a 20,480-triangle sphere
  at 64² ... 512² (median of 10 after a warm-up), CPU backend (and nvdiffrast when CUDA exists).
* ``spot`` — geometry stage on the spot capture (64 views, 256², CPU ``fast``): Chamfer (% of GT
  bbox diagonal), normal MAE on the 8 test views, mask IoU, wall time.
* ``fit`` — the whole ``relight fit`` of spot (geometry -> xatlas -> material) and its metrics.
* ``lego`` — the real NeRF-synthetic lego capture from ../shared/data (skipped when absent):
  every 8th frame held out, images downscaled 4x (200²); mask IoU and novel-view PSNR of the
  per-vertex-colour render on the held-out frames.
Writes ``<out>.json`` and ``<out>.md``; the spot capture is synthesized once into out/bench/.
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
import torch

from relight.commands.common import preset_for
from relight.data.capture_io import load_capture
from relight.data.mesh import load_mesh
from relight.evaluation.geometry import evaluate_geometry
from relight.geometry.config import load_config
from relight.geometry.fit import fit_geometry
from relight.geometry.raster import make_raster, nvdiffrast_available
from relight.runtime.backend import select_backend

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_synth import cpu_name  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LEGO = ROOT.parent / "shared" / "data" / "datasets" / "nerf_synthetic_lego"


def raster_speed(device: str, res: int, repeats: int = 10) -> dict:
    import trimesh

    from relight.data.camera import orbit_cameras

    ras = make_raster(device)
    m = trimesh.creation.icosphere(subdivisions=5, radius=0.8)
    cam = orbit_cameras(4, 3.2, 40.0, res, res)[1]
    v = torch.tensor(m.vertices, dtype=torch.float32, device=device, requires_grad=True)
    tri = torch.tensor(m.faces, dtype=torch.int32, device=device)
    mvp = torch.tensor(cam.mvp(), dtype=torch.float32, device=device)
    times = []
    for _ in range(repeats + 1):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        pos = (torch.cat([v, torch.ones_like(v[:, :1])], 1) @ mvp.T)[None].contiguous()
        rast, _ = ras.rasterize(pos, tri, (res, res))
        col, _ = ras.interpolate(v, rast, tri)
        ras.antialias(col, rast, pos, tri).square().sum().backward()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return {"backend": ras.name, "res": res, "triangles": len(m.faces), "ms": round(1000 * float(np.median(times[1:])), 1)}


def spot_capture(backend) -> Path:
    from relight.render.scene import load_scene
    from relight.render.synth import synthesize

    cap = ROOT / "out/bench/spot_256_64"
    if not (cap / "transforms_test.json").is_file():
        shutil.rmtree(cap, ignore_errors=True)
        synthesize(load_scene("spot").with_overrides(res=256, views=64), cap, backend)
    return cap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parts", default="raster,spot,fit,lego")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="results/geometry")
    a = ap.parse_args()
    parts = set(a.parts.split(","))
    backend = select_backend(a.device)
    dev = "cuda" if backend.device == "cuda" else "cpu"
    preset = preset_for(backend)
    out = Path(a.out)
    row = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").is_file() else {}
    row.update({"device": backend.describe(), "cpu": cpu_name(), "date": time.strftime("%Y-%m-%d"),
                "torch_threads": torch.get_num_threads()})
    if "raster" in parts:
        row["raster"] = [raster_speed("cpu", r) for r in (64, 128, 256, 512)]
        if nvdiffrast_available():
            row["raster"] += [raster_speed("cuda", r) for r in (64, 128, 256, 512)]
        print(row["raster"])
    if "spot" in parts:
        cap = spot_capture(backend)
        train, test = load_capture(cap, "train"), load_capture(cap, "test")
        cfg = load_config(preset)
        t = time.perf_counter()
        res = fit_geometry(train, cfg, make_raster(dev))
        secs = time.perf_counter() - t
        m = evaluate_geometry(res.mesh, res.colors, test, make_raster(dev), load_mesh(cap / "gt/mesh.obj"))
        row["spot"] = {"preset": preset, "views": len(train), "res": 256, "seconds": round(secs, 1),
                       "seconds_per_step": round(res.seconds_per_step, 4), "iterations": cfg.iterations,
                       "hull_faces": res.hull_faces, "faces": len(res.mesh.faces), "metrics": m}
        print(row["spot"])
    if "fit" in parts:
        from relight.commands.fit import run as run_fit
        from relight.material.config import load_config as mload

        cap = spot_capture(backend)
        dst = ROOT / "out/bench/spot_fit"
        t = time.perf_counter()
        fr = run_fit(cap, dst, load_config(preset), mload(preset), backend, overwrite=True)
        secs = time.perf_counter() - t
        row["fit"] = {"preset": preset, "seconds": round(secs, 1), "geometry_seconds": round(fr.geometry.seconds, 1),
                      "unwrap_seconds": round(fr.unwrap_seconds, 1), "material_seconds": round(fr.material_seconds, 1),
                      "geometry_metrics": fr.geometry_metrics, "metrics": fr.metrics.to_json()}
        print(row["fit"])
    if "lego" in parts and LEGO.is_dir():
        train = load_capture(LEGO, "train", downscale=4, holdout_every=8)
        test = load_capture(LEGO, "test", downscale=4, holdout_every=8)
        cfg = load_config(preset, image_res=200, hull_res=96)
        t = time.perf_counter()
        res = fit_geometry(train, cfg, make_raster(dev))
        secs = time.perf_counter() - t
        m = evaluate_geometry(res.mesh, res.colors, test, make_raster(dev))
        row["lego"] = {"train_views": len(train), "test_views": len(test), "res": list(train.resolution),
                       "seconds": round(secs, 1), "faces": len(res.mesh.faces), "metrics": m}
        print(row["lego"])
    row["peak_rss_MB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(row, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(row))
    print(out.with_suffix(".md").read_text())


def markdown(r: dict) -> str:
    L = [f"# Geometry stage benchmark ({r['date']})", "",
         f"Device: {r['device']}; CPU: {r['cpu']}; torch threads: {r['torch_threads']}.",
         "Reproduce: `.venv/bin/python bench/bench_geometry.py` (parts: raster, spot, fit, lego).", ""]
    if "raster" in r:
        L += ["## Raster backend: rasterize + interpolate + antialias + backward, 20,480 triangles", "",
              "| backend | resolution | ms |", "|---|---|---|"]
        L += [f"| {x['backend']} | {x['res']}² | {x['ms']} |" for x in r["raster"]] + [""]
    if "spot" in r:
        s, m = r["spot"], r["spot"]["metrics"]
        L += [f"## Geometry stage on spot ({s['views']} views, {s['res']}², `{s['preset']}`)", "",
              "| figure | value | target |", "|---|---|---|",
              f"| Chamfer (% of GT bbox diagonal) | {100 * m['chamfer']:.3f} % | ≤ 0.5 % |",
              f"| normal MAE (8 test views) | {m['normal_mae']:.2f}° | ≤ 5° |",
              f"| mask IoU (test views) | {m['mask_iou']:.4f} | |",
              f"| novel-view PSNR, per-vertex colour (sRGB) | {m['novel_view_psnr']:.2f} dB | |",
              f"| wall time (hull + {s['iterations']} steps) | {s['seconds']:.0f} s | ≤ 300 s |",
              f"| seconds per step (4 views, 256²) | {s['seconds_per_step']:.3f} s | |",
              f"| faces (hull → final) | {s['hull_faces']} → {s['faces']} | |", ""]
    if "fit" in r:
        f, m, g = r["fit"], r["fit"]["metrics"], r["fit"]["geometry_metrics"]
        rp = m["relight_psnr"]
        L += [f"## Full `relight fit` of spot (`{f['preset']}`)", "",
              "| figure | value | target |", "|---|---|---|",
              f"| wall time (geometry + unwrap + material + eval) | {f['seconds']:.0f} s | ≤ 900 s |",
              f"| geometry / unwrap / material | {f['geometry_seconds']:.0f} / {f['unwrap_seconds']:.0f} / "
              f"{f['material_seconds']:.0f} s | |",
              f"| relight PSNR mean ({len(rp)} envmaps) | {m['relight_psnr_mean']:.2f} dB | ≥ 28 dB |",
              *[f"| relight PSNR {k} | {v:.2f} dB | |" for k, v in rp.items()],
              f"| albedo PSNR (scale-aligned) | {m['albedo_psnr']:.2f} dB | |",
              f"| roughness MAE | {m['roughness_mae']:.3f} | |",
              f"| novel-view PSNR | {m['novel_view_psnr']:.2f} dB | |",
              f"| Chamfer / normal MAE | {100 * g['chamfer']:.3f} % / {g['normal_mae']:.2f}° | |", ""]
    if "lego" in r:
        lg, m = r["lego"], r["lego"]["metrics"]
        L += [f"## Real capture: NeRF-synthetic lego ({lg['train_views']} train / {lg['test_views']} held-out "
              f"frames, every 8th held out, {lg['res'][1]}×{lg['res'][0]})", "",
              "| figure | value |", "|---|---|",
              f"| mask IoU (held-out) | {m['mask_iou']:.4f} |",
              f"| novel-view PSNR, per-vertex colour (sRGB, inside mask) | {m['novel_view_psnr']:.2f} dB |",
              f"| wall time | {lg['seconds']:.0f} s |", f"| faces | {lg['faces']} |", ""]
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
