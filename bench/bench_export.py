"""Benchmark relighting renders and export: render seconds per 512² frame at 256 spp, GLB size,
glTF-Validator result, and (optionally) the wall time of ``relight demo``.

Usage: .venv/bin/python bench/bench_export.py [--asset results/material_asset] [--demo] [--out results/export]
``--demo`` also times ``relight demo -o out/bench/demo`` (synth -> fit -> render -> export -> report).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from relight.data.asset import load_asset
from relight.data.camera import ring_cameras
from relight.export.formats import export_asset
from relight.render.mitsuba import build_scene, render_views
from relight.runtime.backend import select_backend

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_synth import cpu_name  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def validate(glb: Path) -> dict | None:
    script = ROOT / "tools/gltf/validate.js"
    if shutil.which("node") is None or not (ROOT / "tools/gltf/node_modules/gltf-validator").is_dir():
        return None
    r = subprocess.run(["node", str(script), str(glb)], capture_output=True, text=True, timeout=300)
    return json.loads(r.stdout) if r.returncode == 0 else {"error": r.stderr.strip()[-300:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--asset", default="results/material_asset")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--res", type=int, default=512)
    ap.add_argument("--spp", type=int, default=256)
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--out", default="results/export")
    a = ap.parse_args()
    import drjit as dr

    backend = select_backend(a.device)
    asset = load_asset(a.asset)
    cams = ring_cameras(asset.mesh, a.frames + 1, a.res)
    scene = build_scene(backend, asset, 8)
    times = []
    for i, cam in enumerate(cams):  # the first frame compiles the kernels: excluded
        t = time.perf_counter()
        render_views(backend, scene, [cam], a.spp, seed=i)
        dr.sync_thread()
        times.append(time.perf_counter() - t)
    out_dir = ROOT / "out/bench/export"
    shutil.rmtree(out_dir, ignore_errors=True)
    glb = export_asset(asset, out_dir / "asset.glb")[0]
    row = {"device": backend.describe(), "cpu": cpu_name(), "date": time.strftime("%Y-%m-%d"), "asset": a.asset,
           "faces": len(asset.mesh.faces), "texture": list(asset.albedo.shape[:2]), "res": a.res, "spp": a.spp,
           "first_frame_seconds": round(times[0], 2), "seconds_per_frame": round(float(np.median(times[1:])), 2),
           "glb_bytes": glb.stat().st_size, "validator": validate(glb)}
    if a.demo:
        t = time.perf_counter()
        subprocess.run([str(ROOT / ".venv/bin/relight"), "demo", "-o", str(ROOT / "out/bench/demo"), "--overwrite",
                        "-q"], check=True)
        row["demo_seconds"] = round(time.perf_counter() - t, 1)
    out = ROOT / a.out
    out.with_suffix(".json").write_text(json.dumps(row, indent=2) + "\n")
    v = row["validator"]
    vtxt = "not run (node/gltf-validator missing)" if v is None else (
        f"{v['errors']} errors, {v['warnings']} warnings" if "errors" in v else v["error"])
    lines = [f"# Relighting renders and export ({row['date']})", "",
             f"Device: {row['device']}; CPU: {row['cpu']}. Asset: `{a.asset}` ({row['faces']} faces, "
             f"{row['texture'][1]}×{row['texture'][0]} textures).",
             "Reproduce: `.venv/bin/python bench/bench_export.py" + (" --demo" if a.demo else "") + "`", "",
             "| figure | value |", "|---|---|",
             f"| render time per {a.res}² frame at {a.spp} spp (median of {a.frames}, path tracer, depth 8) | "
             f"{row['seconds_per_frame']:.2f} s |",
             f"| first frame (includes kernel compilation) | {row['first_frame_seconds']:.2f} s |",
             f"| GLB size | {row['glb_bytes'] / 1024:.0f} KiB |",
             f"| Khronos glTF-Validator | {vtxt} |"]
    if a.demo:
        lines.append(f"| `relight demo` wall time (synth → fit → render → export → report) | {row['demo_seconds']:.0f} s |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
