"""Issue 18's levers, each measured against the ladder step it is meant to close.

A run is one material-stage fit with ``fast`` plus config overrides, on one object's bench_suite
capture and one mesh (``--mesh gt``: the GT mesh and its UVs, the ladder's row a; ``--mesh gt_xatlas``: the GT surface
with an xatlas atlas, row b; ``--mesh fit``:
the reconstructed mesh and atlas of ``out/bench/suite/<object>_fit``, row c's; ``--mesh fit_gtn``: that mesh
with the GT surface's shading normals, :func:`gt_normals`; ``--mesh fit_sn``: that mesh with the shading normals
of a copy smoothed by 5 Taubin iterations, :func:`relight.geometry.remesh.shading_normals`), or a post-process
of an existing asset (``--post asis``: the fitted asset itself, row c; ``--post dilate``: fill every texel outside the atlas' charts from the nearest
chart texel — gutter dilation; ``--post oracle512`` / ``oracle1024``: the ceiling of the fitted mesh
with GT materials transferred at that texture size). ``--gt-light`` fixes the light to the GT envmap
(``fit_envmap = false``; textures still start uniform; pass ``levels=1 "level_split=[1.0]"`` so the
envmap is not resampled through the coarse levels): what the material fit reaches when the light is
known, separating the light's share of an error from the textures'. ``--gt-light-start`` starts the
light there but fits it (same advice on levels): whether the fit's objective keeps the true light. Every row is evaluated with ``relight eval``'s
protocol (256 spp) and split by **where** the albedo error is (:func:`error_regions`): the 2-px
silhouette band, interior pixels on GT texture edges, and flat interior pixels. Rows are appended
to results/levers.jsonl; results/levers.md is rewritten from it.

``--init-from ASSET`` starts textures and light from an earlier asset fitted on the same mesh
(continuing a fit, e.g. from the truth, to see where the objective takes it).

Usage: .venv/bin/python bench/bench_levers.py NAME --object spot --mesh gt|gt_xatlas|fit [--init-from ASSET] [key=value ...]
       .venv/bin/python bench/bench_levers.py NAME --object spot --post asis|dilate|oracle512|oracle1024
       .venv/bin/python bench/bench_levers.py --markdown
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rows import append_row, rewrite_markdown

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "out/bench/suite"
OUT = ROOT / "results/levers"


def error_regions(asset, test, backend) -> dict:
    """Scale-aligned albedo error of ``asset`` on the test views, split by region: ``silhouette``
    (mask pixels within 2 px of its edge), ``texture_edges`` (other pixels where the GT albedo's
    Sobel gradient of luminance ≥ 0.05) and ``flat`` (the rest). Per region: fraction of pixels,
    share of the squared error, PSNR (dB, linear albedo, peak 1)."""
    from scipy.ndimage import binary_erosion, sobel

    from relight.evaluation.evaluate import covered_pixels
    from relight.evaluation.metrics import channel_scale
    from relight.render.mitsuba import build_scene, surface_aovs

    scene = build_scene(backend, asset, 2)
    aov = [surface_aovs(backend, scene, asset, c) for c in test.cameras]
    alb = np.stack([a["albedo"] for a in aov])
    mask = test.masks > 0.5
    both = covered_pixels(aov, test.masks)
    err = np.clip(alb * channel_scale(alb, test.gt.albedo, both), 0, 1) - test.gt.albedo
    interior = np.stack([binary_erosion(m, iterations=2) for m in mask]) & both
    grad = np.stack([np.hypot(sobel(g, 0), sobel(g, 1)) for g in test.gt.albedo.mean(-1)])
    total = float((err[both] ** 2).sum())
    out = {}
    for key, m in (("silhouette", both & ~interior), ("texture_edges", interior & (grad >= 0.05)),
                   ("flat", interior & (grad < 0.05))):
        se = err[m] ** 2
        out[key] = {"pixels": round(float(m.sum() / both.sum()), 4), "share": round(float(se.sum()) / total, 4),
                    "psnr": round(float(-10 * np.log10(se.mean())), 2)}
    return out


def dilate(asset):
    """``asset`` with every texel outside its atlas' charts set from the nearest chart texel."""
    from bench_mesh_ceiling import fill_gutters

    from relight.material.uv import uv_coverage

    charts: dict[int, np.ndarray] = {}  # per texture resolution (the textures usually share one)

    def fill(tex):
        n = tex.shape[0]
        if n not in charts:
            charts[n] = uv_coverage(asset.mesh, n, dilate=0)
        return fill_gutters(charts[n], tex)[0]

    return replace(asset, albedo=fill(asset.albedo), roughness=fill(asset.roughness),
                   metallic=None if asset.metallic is None else fill(asset.metallic))


def gt_normals(mesh, gt):
    """``mesh`` with the GT surface's smooth shading normal at each vertex's nearest GT surface point
    (``--mesh fit_gtn``: how much of the reconstructed mesh's loss is its shading normals')."""
    from bench_mesh_ceiling import nearest_surface

    g = gt.mesh.with_normals()
    _, face, bary = nearest_surface(g, mesh.vertices)
    n = (bary[:, :, None] * g.normals[g.faces[face]]).sum(1)
    return replace(mesh, normals=n / np.linalg.norm(n, axis=1, keepdims=True))


def gt_light_init(gt, cfg):
    """An initial asset with uniform textures (``cfg``'s) and the GT envmap, its rotation about +y
    baked into the lat-long columns (the fit's envmap has none)."""
    from relight.data.asset import Asset

    w = gt.envmap.shape[1]
    env = np.roll(gt.envmap, -int(round(gt.envmap_rotation_deg / 360 * w)), axis=1)
    tex = np.full((8, 8), cfg.init_roughness, np.float32)
    return Asset(gt.mesh, np.full((8, 8, 3), cfg.init_albedo, np.float32), tex, np.ascontiguousarray(env),
                 np.zeros_like(tex) if cfg.metallic else None)


def run(name: str, obj: str, mesh: str, post: str | None, over: dict, gt_light: bool = False,
        mesh_from: str | None = None, gt_light_start: bool = False, init_from: str | None = None) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_mesh_ceiling import oracle_asset
    from bench_suite import MATERIAL_MODEL

    from relight.commands.common import load_splits
    from relight.data.asset import load_asset, save_asset
    from relight.evaluation.evaluate import evaluate
    from relight.material.config import load_config
    from relight.material.fit import fit_material
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    light = "GT, fixed" if gt_light else "starts at GT" if gt_light_start else None  # where the light starts
    cap = SUITE / obj
    splits, gt = load_splits(cap), load_asset(cap / "gt")
    t = time.perf_counter()
    if post:
        fitted = load_asset(SUITE / f"{obj}_fit")
        asset = fitted if post == "asis" else dilate(fitted) if post == "dilate" else \
            oracle_asset(fitted, gt, int(post.removeprefix("oracle")))[0]
    else:
        cfg = load_config("fast", **{**MATERIAL_MODEL.get(obj, {}), **over, **({"fit_envmap": False} if gt_light else {})})
        if mesh == "gt":
            m = gt.mesh.with_normals()
        elif mesh == "gt_xatlas":  # the ladder's row b: the GT surface, unwrapped as a fit's mesh is
            from relight.data.mesh import Mesh
            from relight.material.uv import unwrap

            m = unwrap(Mesh(gt.mesh.vertices, gt.mesh.faces), cfg.tex_res).with_normals()
        else:
            m = load_asset(Path(mesh_from or SUITE / f"{obj}_fit")).mesh
        if mesh == "fit_gtn":
            m = gt_normals(m, gt)
        if mesh == "fit_sn":  # shading normals of a copy smoothed 5 times (GeometryConfig.normal_smoothing = 5)
            from relight.geometry.remesh import shading_normals

            m = replace(m, normals=shading_normals(m.vertices, m.faces, 5))
        init = gt_light_init(gt, cfg) if light else None
        if init_from:  # continue from an earlier asset's textures and light (same mesh and UVs)
            init = replace(load_asset(init_from), mesh=m)
        asset = fit_material(splits.train, m, cfg, backend, init=init).asset
        save_asset(asset, ROOT / "out/bench/levers" / f"{obj}_{name}")
    seconds = time.perf_counter() - t
    ev = evaluate(asset, splits.test, backend).to_json()
    row = {"name": name, "object": obj, "mesh": "fit" if post else mesh, "post": post,
           **({"mesh_from": str(mesh_from)} if mesh_from else {}),
           **({"init_from": Path(init_from).name} if init_from else {}),
           "overrides": {**over, **({"light": light} if light else {})},
           "date": time.strftime("%Y-%m-%d"), "albedo_psnr": ev["albedo_psnr"],
           "relight_psnr_mean": ev["relight_psnr_mean"], "relight_psnr": ev["relight_psnr"],
           "roughness_mae": ev["roughness_mae"], "metallic_mae": ev.get("metallic_mae"),
           "normal_mae": ev.get("normal_mae"), "seconds": round(seconds, 1), "regions": error_regions(asset, splits.test, backend),
           **({"albedo_detail": asset.info["albedo_detail"]} if "albedo_detail" in asset.info else {}),
           **({"light_concentration": asset.info["light_concentration"]} if "light_concentration" in asset.info else {})}
    append_row(OUT.with_suffix(".jsonl"), row)
    return row


def markdown(rows: list[dict]) -> str:
    def f(x, fmt=".2f"):
        return "—" if x is None else format(x, fmt)

    L = ["# Levers of issue 18, measured", "",
         "Reproduce a row: `.venv/bin/python bench/bench_levers.py NAME --object OBJ --mesh gt|gt_xatlas|fit "
         "[--mesh-from ASSET] [key=value ...]` "
         "or `... --post dilate|oracle512|oracle1024` (see the script's docstring; CPU `fast`, bench_suite "
         "captures 64 + 8 views at 256², evaluated at 256 spp). *Regions*: PSNR of the albedo error "
         "(share of its squared error) on the 2-px silhouette band / GT texture edges / flat interior.", "",
         "| object | mesh | lever | albedo PSNR | relight PSNR (min) | roughness MAE | metallic MAE | normal MAE | "
         "silhouette | texture edges | flat | seconds |", "|---" * 12 + "|"]
    from dataclasses import fields

    from relight.material.config import MaterialConfig

    known = {f.name for f in fields(MaterialConfig)} | {"light"}
    gone = False
    for r in rows:
        what = r["post"] or (", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "defaults")
        if r.get("init_from"):
            what += f", from {r['init_from']}"
        if set(r["overrides"]) - known:
            what, gone = what + " ‡", True
        if r.get("note"):  # what the overrides do not say (code of the time)
            what += f" ({r['note']})"
        reg = [f"{g['psnr']:.1f} ({100 * g['share']:.0f} %)" for g in r["regions"].values()]
        lo = min(r["relight_psnr"].values())
        src = f" ({Path(r['mesh_from']).name})" if r.get("mesh_from") else ""
        L.append(f"| {r['object']} | {r['mesh']}{src} | {r['name']}: {what} | {f(r['albedo_psnr'])} | "
                 f"{f(r['relight_psnr_mean'])} ({lo:.2f}) | {f(r['roughness_mae'], '.3f')} | "
                 f"{f(r['metallic_mae'], '.3f')} | {f(r.get('normal_mae'), '.2f')}{'°' * bool(r.get('normal_mae'))} | "
                 f"{' | '.join(reg)} | {r['seconds']:.0f} |")
    if gone:
        L += ["", "‡ a setting of a lever that was measured, not kept and removed again: the commit that "
              "held it is named in results/README.md."]
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", nargs="?")
    ap.add_argument("overrides", nargs="*", help="material config key=value (Python literals)")
    ap.add_argument("--object", default="spot")
    ap.add_argument("--mesh", choices=["gt", "gt_xatlas", "fit", "fit_gtn", "fit_sn"], default="gt")
    ap.add_argument("--mesh-from", help="with --mesh fit: the mesh (and atlas) of this asset folder instead of "
                    "the suite's fit, e.g. a bench_vertex_refine output")
    ap.add_argument("--post", choices=["asis", "dilate", "oracle512", "oracle1024"])
    ap.add_argument("--gt-light", action="store_true", help="fix the light to the GT envmap")
    ap.add_argument("--gt-light-start", action="store_true",
                    help="start the light at the GT envmap and fit it (does the fit leave the truth?)")
    ap.add_argument("--init-from", help="start textures and light from this asset folder (fitted on the same mesh)")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_intermixed_args()
    if not a.markdown:
        over = {k: ast.literal_eval(v) for k, v in (x.split("=", 1) for x in a.overrides)}
        print(json.dumps(run(a.name, a.object, a.mesh, a.post, over, a.gt_light, a.mesh_from, a.gt_light_start, a.init_from)))
    rewrite_markdown(OUT, markdown)


if __name__ == "__main__":
    main()
