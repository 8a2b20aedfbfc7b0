"""Diagnostic: judge a geometry setting by the relighting it allows (its *ceiling*).

Usage: .venv/bin/python bench/bench_geometry_ceiling.py TAG [--set KEY=JSON ...] [--mesh OBJ]
       [--capture out/bench/spot_256_64] [--spp 256] [--out results/geometry_ceiling.jsonl]
       .venv/bin/python bench/bench_geometry_ceiling.py --table   # jsonl -> results/geometry_ceiling.md
       .venv/bin/python bench/bench_geometry_ceiling.py --table OTHER.jsonl   # print its table

Fits the geometry stage on the capture's training views with ``GeometryConfig`` overrides
(``--set lam=40``; or takes ``--mesh``), unwraps it (xatlas, a ``--tex-res`` atlas, 512² by default), gives every texel the GT
albedo/roughness of the nearest GT surface point and the GT envmap (``bench_mesh_ceiling``), and
renders the test views under each relit set's light. Reported: Chamfer, normal MAE, mask IoU, the
albedo PSNR of that oracle (scale-aligned, as ``relight eval``; by region: bench_levers.error_regions) and
the relight PSNR (sRGB, over the GT mask as ``relight eval``, no albedo alignment: the albedo *is*
GT) split into the **silhouette band** (GT-mask pixels within 2 px of the GT or the predicted
silhouette) and the **interior** (the rest) — which of the two a setting improves. Appends one
JSON line to ``--out`` and writes the mesh and an error strip to ``out/bench/geo_TAG/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from rows import append_row, read_rows

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_levers import error_regions  # noqa: E402
from bench_mesh_ceiling import oracle_asset  # noqa: E402

HEADER = """# Geometry settings judged by their relighting ceiling (spot, 64 views at 256²)

Reproduce a row: `.venv/bin/python bench/bench_geometry_ceiling.py TAG --set KEY=JSON ...`; this
table: `bench/bench_geometry_ceiling.py --table`. Each run fits the geometry stage (the `fast`
preset of its day plus the overrides; all rows here ran on the old `fast`, without remeshing and
supersampling, which are now its defaults) or takes a mesh, gives it GT materials and the GT light, and renders
the 8 test views under the 5 relit envmaps (`spp` samples; the references have 256). *band*: GT-mask
pixels within 2 px of either silhouette (~11.6 % of the mask), *interior*: the rest. The GT mesh
itself scores what Monte Carlo noise allows (`gtmesh` rows). Rows before `aafix_*` ran with the
antialiasing bug that commit c1ce374 fixed (slanted silhouette edges blended twice). Fit times
are wall times on the 2-core machine; `aafix_rm2` shared it with another run. `w_lap` was a
Laplacian position term (mean squared uniform-Laplacian offset per squared mean edge), measured here
and removed: it shrinks the mesh faster than the silhouettes hold it.

"""


def band_masks(gt_mask: np.ndarray, pred_mask: np.ndarray, px: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) silhouette band and interior, both inside the GT mask."""
    from scipy.ndimage import binary_erosion

    st = np.ones((1, 2 * px + 1, 2 * px + 1), bool)
    interior = binary_erosion(gt_mask, st) & binary_erosion(pred_mask, st)
    return gt_mask & ~interior, interior


def table(jsonl: Path) -> str:
    """Markdown table of the runs in ``jsonl`` (one JSON object a line, as ``main`` appends)."""
    rows = read_rows(jsonl)
    out = ["| run | overrides / mesh | spp | fit s | faces | Chamfer % | normal MAE ° | mask IoU | "
           "relight dB | band dB | interior dB | albedo dB |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        what = ", ".join(f"{k}={v}" for k, v in r.get("set", {}).items()) or r.get("mesh", "defaults")
        albedo = f"{r['albedo_psnr']:.2f}" if "albedo_psnr" in r else "—"
        out.append(f"| {r['tag']} | {what} | {r.get('spp', 64)} | {r.get('seconds', '—')} | {r['faces']} | "
                   f"{100 * r['chamfer']:.3f} | {r['normal_mae']:.2f} | {r['mask_iou']:.4f} | "
                   f"{r['relight_psnr_mean']:.2f} | {r['band_psnr_mean']:.2f} | {r['interior_psnr_mean']:.2f} | "
                   f"{albedo} |")
    return "\n".join(out) + "\n"


def main() -> None:
    if sys.argv[1:] == ["--table"]:
        src = Path("results/geometry_ceiling.jsonl")
        Path("results/geometry_ceiling.md").write_text(HEADER + table(src))
        print(Path("results/geometry_ceiling.md").read_text())
        return
    if sys.argv[1:2] == ["--table"]:  # another --out file's rows: print its table
        print(table(Path(sys.argv[2])))
        return
    from relight.commands.common import preset_for
    from relight.data.asset import Asset, load_asset
    from relight.data.capture_io import load_capture
    from relight.data.images import linear_to_srgb, read_envmap, write_png
    from relight.data.mesh import load_mesh, write_obj
    from relight.evaluation.geometry import evaluate_geometry
    from relight.evaluation.metrics import psnr
    from relight.geometry.config import load_config
    from relight.geometry.fit import fit_geometry
    from relight.geometry.raster import make_raster
    from relight.material.uv import unwrap
    from relight.render.mitsuba import build_scene, render_views
    from relight.runtime.backend import select_backend

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("tag")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    ap.add_argument("--mesh", default=None, help="evaluate this OBJ instead of fitting")
    ap.add_argument("--capture", default="out/bench/spot_256_64")
    ap.add_argument("--spp", type=int, default=256)
    ap.add_argument("--out", default="results/geometry_ceiling.jsonl")
    ap.add_argument("--tex-res", type=int, default=512, help="the oracle's atlas resolution")
    a = ap.parse_args()
    backend = select_backend("auto")
    dev = "cuda" if backend.device == "cuda" else "cpu"
    cap = Path(a.capture)
    train, test = load_capture(cap, "train"), load_capture(cap, "test")
    gt = load_asset(cap / "gt")
    sets = {k: json.loads(v) for k, v in (x.split("=", 1) for x in a.set)}
    work = Path("out/bench") / f"geo_{a.tag}"
    work.mkdir(parents=True, exist_ok=True)
    row: dict = {"tag": a.tag, "set": sets, "date": time.strftime("%Y-%m-%d %H:%M"), "tex_res": a.tex_res}
    if a.mesh:
        mesh, colors = load_mesh(a.mesh).with_normals(), None
        row["mesh"] = a.mesh
    else:
        cfg = load_config(preset_for(backend), **sets)
        t = time.perf_counter()
        res = fit_geometry(train, cfg, make_raster(dev))
        row["seconds"] = round(time.perf_counter() - t, 1)
        mesh, colors = res.mesh, res.colors
        write_obj(work / "mesh.obj", mesh)
    row["faces"] = len(mesh.faces)
    gm = evaluate_geometry(mesh, colors if colors is not None else np.full((len(mesh.vertices), 3), 0.5),
                           test, make_raster(dev), gt.mesh)
    row |= {k: gm[k] for k in ("chamfer", "normal_mae", "mask_iou")}
    uv = unwrap(mesh, a.tex_res).with_normals()
    shell = Asset(uv, gt.albedo, gt.roughness, gt.envmap, envmap_rotation_deg=gt.envmap_rotation_deg)
    oracle, _ = oracle_asset(shell, gt, a.tex_res)
    regions = error_regions(oracle, test, backend)
    row |= {"albedo_psnr": float(-10 * np.log10(sum(r["pixels"] * 10 ** (-r["psnr"] / 10) for r in regions.values()))),
            "albedo_regions": regions}
    gmask = test.masks > 0.5
    psnrs, bands, inner, strips = {}, {}, {}, []
    for name, rv in test.relit.items():
        sc = build_scene(backend, oracle.with_envmap(read_envmap(rv.envmap), rv.rotation_deg), 6)
        img = render_views(backend, sc, test.cameras, a.spp, seed=11)
        band, interior = band_masks(gmask, img[..., 3] > 0.5)
        p, g = linear_to_srgb(img[..., :3]), linear_to_srgb(rv.images)
        psnrs[name], bands[name], inner[name] = psnr(p, g, gmask), psnr(p, g, band), psnr(p, g, interior)
        err = np.abs(p - g).mean(-1) * gmask
        strips.append(np.concatenate([np.concatenate([p[i], g[i], np.repeat(err[i, ..., None] * 4, 3, -1)], 1)
                                      for i in range(min(3, len(p)))], 0))
        row["band_share"] = float(band.sum() / gmask.sum())
    write_png(work / "relit_error.png", np.clip(np.concatenate(strips[:2], 1), 0, 1))
    row |= {"relight_psnr_mean": float(np.mean(list(psnrs.values()))),
            "band_psnr_mean": float(np.mean(list(bands.values()))),
            "interior_psnr_mean": float(np.mean(list(inner.values()))), "relight_psnr": psnrs, "spp": a.spp}
    print(json.dumps(row))
    append_row(a.out, row)


if __name__ == "__main__":
    main()
