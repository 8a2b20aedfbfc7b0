"""Calibrate and check relight's memory estimate (relight/resources.py) against measured peaks.

Each configuration runs in a fresh process: import + variant set, note the peak RSS, then run
two steps of the material stage (Mitsuba prb, one view batch), one primal render, or two steps
of the geometry stage (CPU rasterizer), and report the growth of the peak RSS. The table
compares it with ``relight.runtime.resources``' estimate for the same settings.

Usage: .venv/bin/python bench/bench_memory.py [--out results/memory]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRID = [("material", 64, 4, 1), ("material", 128, 8, 1), ("material", 128, 32, 1), ("material", 256, 8, 1),
        ("material", 256, 16, 2), ("material", 256, 32, 1), ("render", 128, 16, 1), ("render", 256, 16, 1),
        ("render", 256, 64, 1), ("render", 512, 16, 1), ("geometry", 128, 0, 1), ("geometry", 256, 0, 4),
        ("geometry", 512, 0, 4), ("geometry", 256, 2, 4), ("geometry", 512, 2, 4),
        ("envmap", 2048, 16, 1), ("envmap", 4096, 16, 1), ("envmap", 8192, 16, 1)]
# geometry rows: the third field is the coverage supersampling factor (0 = none), not spp
# envmap rows: a user envmap of res x res/2 read from EXR, one 128² view rendered under it
ENV_VIEW = 128
VIEWS = 8


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, res: int, spp: int, batch: int) -> dict:
    import numpy as np

    from relight.data.capture import Capture
    from relight.render.scene import load_scene
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    backend.mitsuba()
    import torch  # noqa: F401  (counted in the base like in a real run)

    view = ENV_VIEW if kind == "envmap" else res  # envmap rows: res is the envmap's width
    spec = load_scene("spot").with_overrides(res=view, views=VIEWS)
    asset = spec.build_asset()
    cams = spec.train_cameras()
    imgs = np.zeros((VIEWS, view, view, 3), np.float32)
    masks = np.ones((VIEWS, view, view), np.float32)
    cap = Capture(cams, imgs, masks, [str(i) for i in range(VIEWS)])
    base = peak_mb()
    t = time.perf_counter()
    if kind == "material":
        from relight.material.config import MaterialConfig
        from relight.material.fit import fit_material

        cfg = MaterialConfig(iterations=2, levels=1, level_split=[1.0], spp=spp, batch_views=batch,
                             checkpoint_every=0)
        fit_material(cap, asset.mesh, cfg, backend)
    elif kind == "render":
        from relight.render.mitsuba import build_scene, render_views

        render_views(backend, build_scene(backend, asset), cams[:1], spp)
    elif kind == "envmap":
        import tempfile

        from relight.data.camera import ring_cameras
        from relight.data.images import read_envmap
        from relight.render.mitsuba import build_scene, render_views

        with tempfile.TemporaryDirectory() as d:  # written by another process: not in this one's peak
            code = ("import sys, numpy as np; from relight.data.images import write_exr; "
                    f"write_exr(sys.argv[1], np.random.default_rng(0).random(({res // 2}, {res}, 3), np.float32))")
            subprocess.run([sys.executable, "-c", code, str(Path(d) / "env.exr")], check=True, cwd=ROOT)
            base = peak_mb()
            t = time.perf_counter()
            env = asset.with_envmap(read_envmap(Path(d) / "env.exr"), 30.0)
            render_views(backend, build_scene(backend, env), ring_cameras(asset.mesh, 1, ENV_VIEW), spp)
    else:
        from relight.geometry.config import GeometryConfig
        from relight.geometry.fit import fit_geometry
        from relight.geometry.raster import make_raster

        cfg = GeometryConfig(iterations=2, levels=1, level_split=[1.0], image_res=res, batch_views=batch,
                             checkpoint_every=0, supersample=max(spp, 1))
        fit_geometry(cap, cfg, make_raster("cpu"), init=asset.mesh)
    return {"kind": kind, "res": res, "spp": spp, "batch": batch, "base_MB": round(base),
            "delta_MB": round(peak_mb() - base), "faces": len(asset.mesh.faces),
            "seconds": round(time.perf_counter() - t, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/memory")
    ap.add_argument("--child", nargs=4, default=None)
    ap.add_argument("--only", default=None, help="measure only the rows of this kind (others from OUT.json)")
    ap.add_argument("--table-only", action="store_true",
                    help="re-estimate the rows of OUT.json with the current constants, measure nothing")
    a = ap.parse_args()
    if a.child:
        k, r, s, b = a.child
        print(json.dumps(child(k, int(r), int(s), int(b))))
        return
    from relight.runtime import resources as rs

    old = Path(a.out).with_suffix(".json")
    measured = {(r["kind"], r["res"], r["spp"], r["batch"]): r for r in json.loads(old.read_text())} \
        if (a.table_only or a.only) and old.is_file() else {}
    rows = []
    for kind, res, spp, batch in GRID:
        if (a.table_only or (a.only and kind != a.only)) and (kind, res, spp, batch) in measured:
            row = measured[(kind, res, spp, batch)]
        else:
            out = subprocess.run([sys.executable, __file__, "--child", kind, str(res), str(spp), str(batch)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            row = json.loads(out.stdout.strip().splitlines()[-1])
        if kind == "material":
            est = rs.material_work_bytes(res, res, spp, batch, 256, 64)
        elif kind == "render":
            est = rs.render_work_bytes(res, res, spp)
        elif kind == "envmap":
            est = rs.render_work_bytes(ENV_VIEW, ENV_VIEW, spp) + rs.ENVMAP_BYTES_PER_PIXEL * res * res // 2
        else:
            k = max(spp, 1)  # supersampling: rasterized at k x the resolution
            est = rs.geometry_work_bytes(res * k, res * k, batch, row["faces"])
        row["estimate_MB"] = round(est / 2**20)
        rows.append(row)
        print(row, flush=True)
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [f"# Memory: estimate vs. measured peak ({time.strftime('%Y-%m-%d')})", "",
             "Growth of the peak RSS of one process over its state after imports (base), CPU "
             f"(llvm_ad_rgb, torch cpu), spot mesh, {VIEWS} views in memory. The estimate is "
             "`relight.runtime.resources` (what `--max-memory` is checked against); it must not be below the "
             f"measurement. The base itself is estimated as {rs.BASE // 2**20} MB (measured: the base column).", "",
             "Reproduce: `.venv/bin/python bench/bench_memory.py`", "",
             "Geometry rows: the spp column holds the coverage supersampling factor (`supersample`).",
             f"Envmap rows: a user envmap of res x res/2 (`relight render --envmap`), read from EXR and rotated, "
             f"one {ENV_VIEW}² view rendered under it.", "",
             "| work | res | spp | batch | base MB | measured MB | estimate MB | estimate / measured |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r["estimate_MB"] / max(r["delta_MB"], 1)
        size = f"{r['res']}×{r['res'] // 2}" if r["kind"] == "envmap" else f"{r['res']}²"
        lines.append(f"| {r['kind']} | {size} | {r['spp'] or '-'} | {r['batch']} | {r['base_MB']} | "
                     f"{r['delta_MB']} | {r['estimate_MB']} | {ratio:.2f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
