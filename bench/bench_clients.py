"""How the exports look in real programs: Blender 5.0 (Cycles, CPU) reading the GLB and the OBJ,
and three.js r187 in headless Chromium reading the GLB + EXR envmap, each compared with
relight's own render of the same camera and envmap (object-pixel PSNR, sRGB, dB), before and
after issue 19's fixes; the viewer's load time; screenshots of the viewer and the report.

"Before" re-creates what the old exporter wrote: the envmap pixels in Mitsuba's layout (90 degrees
off the layout Blender and three.js read) and, for OBJ, roughness as an 8-bit PNG with ``Ks 0``.

Usage: .venv/bin/python bench/bench_clients.py [--asset results/material_asset] [--res 256]
           [--report out/demo/report] [--out results/clients]
Needs what ./run.sh test installs (.venv-blender with bpy, chromium, tools/web).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from relight.data.asset import Asset, load_asset
from relight.data.camera import Camera, look_at, ring_cameras
from relight.data.images import LEGACY_ENVMAP_PROJECTION, linear_to_srgb, read_envmap, write_png
from relight.export.clients import blender_render, object_psnr, screenshot, three_render
from relight.export.formats import export_asset
from relight.export.viewer import write_site, write_viewer_page
from relight.render.mitsuba import build_scene, render_views
from relight.render.scene import load_scene
from relight.render.shapes import blob
from relight.runtime.backend import select_backend
from relight.runtime.paths import read_json

ROOT = Path(__file__).resolve().parent.parent
SHARED_ENVS = ROOT.parent / "shared/data/envmaps"


def _srgb(rgba: np.ndarray) -> np.ndarray:
    return linear_to_srgb(np.clip(rgba[..., :3], 0, 1)).astype(np.float32)


def legacy_obj(asset: Asset, folder: Path, stem: str) -> None:
    """The OBJ/MTL the old exporter wrote: 8-bit PNG roughness (read as sRGB), ``Ks 0``."""
    export_asset(asset, folder / f"{stem}.obj")
    write_png(folder / f"{stem}_roughness.png", asset.roughness)
    mtl = (folder / f"{stem}.mtl").read_text()
    mtl = re.sub(r"Ks .*", "Ks 0 0 0", mtl).replace(f"{stem}_roughness.exr", f"{stem}_roughness.png")
    (folder / f"{stem}.mtl").write_text(mtl)


def one_light() -> Asset:
    env = np.full((64, 128, 3), 0.02, np.float32)
    env[28:36, 60:68] = 300.0
    return Asset(blob(n_lat=64, n_lon=128, dent=0.0), np.full((8, 8, 3), 0.8, np.float32),
                 np.ones((8, 8), np.float32), env, info={"name": "sphere, one light at +x"})


def compare(name: str, asset: Asset, cam: Camera, work: Path, backend, spp: int, samples: int,
            legacy_file: bool = False) -> dict:
    """PSNR of each client against relight, after (current exports) and before (old ones).

    Before, with the same input files: old relight read an envmap's pixels in Mitsuba's layout,
    which is today's layout turned by -90 degrees (for an asset loaded from a legacy file that
    turn is already in its rotation), and the old exporter wrote the pixels as they were,
    rotation ignored."""
    work.mkdir(parents=True, exist_ok=True)
    row = {"object": name, "res": cam.width}
    ref = render_views(backend, build_scene(backend, asset, 6), [cam], spp)[0]
    old_rot = asset.envmap_rotation_deg - (0.0 if legacy_file else 90.0)
    old_ref = render_views(backend, build_scene(backend, asset.with_envmap(asset.envmap, old_rot), 6), [cam], spp)[0]
    new, old = work / "new", work / "old"
    for d in (new, old):
        d.mkdir(exist_ok=True)
    export_asset(asset, new / "a.glb")
    export_asset(asset, new / "a.obj")
    legacy_obj(asset, new, "m")  # the old MTL under the right envmap: what item 2 alone changes
    legacy = asset.with_envmap(asset.envmap, 0.0)  # the pixels as they were, rotation dropped
    export_asset(legacy, old / "a.glb")
    legacy_obj(legacy, old, "a")
    pics = {"relight": _srgb(ref)}
    for fmt in ("glb", "obj"):
        t = time.perf_counter()
        img, info = blender_render(new / f"a.{fmt}", new / "a_envmap.exr", cam, work / f"bl_{fmt}", samples=samples)
        row[f"blender_{fmt}_after"] = object_psnr(_srgb(img), ref)
        row[f"blender_{fmt}_seconds"] = round(time.perf_counter() - t, 1)
        pics[f"Blender {fmt.upper()}"] = _srgb(img)
        img, _ = blender_render(old / f"a.{fmt}", old / "a_envmap.exr", cam, work / f"bl_old_{fmt}", samples=samples)
        row[f"blender_{fmt}_before"] = object_psnr(_srgb(img), old_ref)
    img, _ = blender_render(new / "m.obj", new / "m_envmap.exr", cam, work / "bl_old_mtl", samples=samples)
    row["blender_obj_old_mtl"] = object_psnr(_srgb(img), ref)
    for tag, d, r in (("after", new, ref), ("before", old, old_ref)):
        site = work / f"site_{tag}"
        site.mkdir(exist_ok=True)
        write_site(site, asset)
        shutil.copyfile(d / "a_envmap.exr", site / "asset_envmap.exr")  # the envmap as that exporter wrote it
        write_viewer_page(site, name)
        img, info = three_render(site, cam, work / tag)
        row[f"three_{tag}"] = object_psnr(img, r)
        if tag == "after":
            pics["three.js"] = img
            row["three_load_ms"] = round(info["stats"]["load_ms"])
    strip = np.concatenate([np.pad(p, ((0, 0), (0, 4), (0, 0)), constant_values=1) for p in pics.values()], 1)
    write_png(work / "strip.png", strip[:, :-4])
    row["strip_order"] = list(pics)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--asset", default="results/material_asset", help="a fitted asset (the demo's, say)")
    ap.add_argument("--report", default=None, help="a report folder to screenshot (e.g. out/demo/report)")
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--spp", type=int, default=256, help="relight's reference render")
    ap.add_argument("--samples", type=int, default=128, help="Cycles samples")
    ap.add_argument("--out", default="results/clients")
    a = ap.parse_args()
    backend = select_backend("cpu")
    out = Path(a.out)
    work = ROOT / "out/bench/clients"
    shutil.rmtree(work, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    fitted = load_asset(a.asset)
    spot = load_scene("spot").build_asset()
    legacy = read_json(Path(a.asset) / "asset.json")["files"]["envmap"].get("projection") == LEGACY_ENVMAP_PROJECTION
    cases = [("fitted asset, its own light", fitted, ring_cameras(fitted.mesh, 1, a.res)[0]),
             ("spot GT, forest", spot.with_envmap(read_envmap(ROOT / "scenes/envmaps/forest.exr")),
              ring_cameras(spot.mesh, 3, a.res)[1]),
             ("sphere, one light at +x", one_light(), Camera.from_fov(a.res, a.res, np.radians(40), look_at((0, 0, 4.5))))]
    unseen = SHARED_ENVS / "royal_esplanade_1k.hdr"
    if unseen.is_file():  # a light that is not in this repository
        cases.append(("fitted asset, royal_esplanade (not in repo)", fitted.with_envmap(read_envmap(unseen)),
                      ring_cameras(fitted.mesh, 4, a.res)[2]))
    rows = []
    for i, (name, asset, cam) in enumerate(cases):
        print(f"[{i + 1}/{len(cases)}] {name}", flush=True)
        row = compare(name, asset, cam, work / f"case{i}", backend, a.spp, a.samples,
                      legacy_file=legacy and asset.envmap is fitted.envmap)
        shutil.copyfile(work / f"case{i}/strip.png", out.parent / f"clients_{i}.png")
        rows.append(row)
        print(json.dumps(row), flush=True)
    shots = {}
    site = work / "viewer_site"
    site.mkdir()
    write_site(site, fitted)
    write_viewer_page(site, "relight view")
    loads = [screenshot(site, "viewer.html", out.parent / "viewer.png", 960, 640, "page")["stats"]["load_ms"]
             for _ in range(3)]
    shots["viewer_load_ms"] = {"runs": [round(x) for x in loads], "median": round(float(np.median(loads)))}
    if a.report:
        info = screenshot(Path(a.report), "index.html", out.parent / "report_page.png", 1200, 900, "page")
        shots["report_load_ms"] = round(info["stats"]["load_ms"])
    (out.parent / f"{out.name}.json").write_text(json.dumps({"rows": rows, **shots, "asset": a.asset,
                                                            "res": a.res, "spp": a.spp, "samples": a.samples}, indent=1))
    md = ["# Exports in real programs: agreement with relight's own render", "",
          f"Object-pixel PSNR (dB, sRGB) against relight's path-traced render of the same camera and envmap "
          f"({a.res}², relight {a.spp} spp, Cycles {a.samples} samples, three.js 2× supersampled). "
          "Before = the old exporter (envmap 90° off; OBJ roughness 8-bit PNG read as sRGB, Ks 0). "
          f"Fitted asset: `{a.asset}`.", "",
          "| case | Blender GLB before → after | Blender OBJ before → after (old MTL, right envmap) | three.js GLB before → after |",
          "|---|---|---|---|"]
    for i, r in enumerate(rows):
        md.append(f"| {r['object']} ([strip](clients_{i}.png)) | {r['blender_glb_before']:.1f} → **{r['blender_glb_after']:.1f}** | "
                  f"{r['blender_obj_before']:.1f} → **{r['blender_obj_after']:.1f}** ({r['blender_obj_old_mtl']:.1f}) | "
                  f"{r['three_before']:.1f} → **{r['three_after']:.1f}** |")
    md += ["", f"Strips: {' | '.join(rows[0]['strip_order'])}.", "",
           f"Viewer load (headless Chromium, SwiftShader, fitted asset, page open → first frame with GLB and EXR "
           f"loaded; 2 CPU cores, other work may share them): median {shots['viewer_load_ms']['median']} ms "
           f"of runs {shots['viewer_load_ms']['runs']}; "
           "screenshot `viewer.png`" + (f"; report page `report_page.png` (load {shots['report_load_ms']} ms)" if a.report else "") + ".",
           "", f"Reproduce: `.venv/bin/python bench/bench_clients.py --asset {a.asset}"
           + (f" --report {a.report}" if a.report else "") + "` (after `./run.sh test` installed the clients)."]
    (out.parent / f"{out.name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
