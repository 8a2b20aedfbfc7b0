"""``relight demo``: the whole pipeline on the built-in default scene, at CPU-friendly settings.

synth (spot, 64 views, 256²) -> fit (geometry -> UVs -> material, ``fast``) -> render (4 orbit
views under another envmap) -> export (GLB + OBJ) -> report (HTML). ``quick`` shrinks every
step to seconds (used by the tests).
"""

from __future__ import annotations

import time
from pathlib import Path

from relight.asset import load_asset
from relight.backend import Backend
from relight.export import export_asset
from relight.geometry import load_config as geometry_config
from relight.io.paths import atomic_dir, write_text_atomic
from relight.material import load_config as material_config
from relight.pipeline import run_fit
from relight.progress import Reporter
from relight.relighting import run_render
from relight.report import BUILTIN_ENVMAPS, run_report
from relight.scene import load_scene
from relight.synth import synthesize


def run_demo(out: Path, backend: Backend, *, quick: bool = False, overwrite: bool = False,
             reporter: Reporter | None = None) -> dict[str, Path]:
    """Run every stage into ``out``; returns the main outputs by name (with ``seconds``)."""
    rep = reporter or Reporter()
    out = Path(out)
    with atomic_dir(out, overwrite) as tmp:  # a failed or interrupted demo leaves no ``out``
        t0 = time.perf_counter()
        spec = load_scene("spot")
        preset = "quality" if backend.device == "cuda" else "fast"
        g, m = geometry_config(preset), material_config(preset)
        if quick:
            spec = spec.with_overrides(res=32, views=8, test_views=2, spp=16, test_spp=16, max_depth=3)
            g = geometry_config(preset, iterations=4, hull_res=32, levels=1, level_split=[1.0], image_res=32)
            m = material_config(preset, iterations=4, spp=2, tex_res=32, env_width=16, levels=1, level_split=[1.0])
        rep.log("1/5 synth: rendering the spot capture")
        synthesize(spec, tmp / "capture", backend)
        rep.log("2/5 fit: geometry -> UVs -> material")
        run_fit(tmp / "capture", tmp / "asset", g, m, backend, reporter=rep)
        rep.log("3/5 render: relit under the forest envmap")
        run_render(tmp / "asset", tmp / "relit", backend, envmap=BUILTIN_ENVMAPS / "forest.exr", orbit=4,
                   res=32 if quick else 256, spp=16 if quick else 128, reporter=rep)
        rep.log("4/5 export: GLB and OBJ")
        asset = load_asset(tmp / "asset")
        export_asset(asset, tmp / "export" / "glb" / "spot.glb")
        export_asset(asset, tmp / "export" / "obj" / "spot.obj")
        rep.log("5/5 report")
        html = run_report(tmp / "asset", tmp / "report", backend, capture=tmp / "capture", spp=16 if quick else 64,
                          reporter=rep)
    for f in [*out.rglob("*.json"), *out.rglob("*.html"), *out.rglob("*.md")]:  # provenance paths
        text = f.read_text(encoding="utf-8")
        if str(tmp) in text:
            write_text_atomic(f, text.replace(str(tmp), str(out)))
    return {"capture": out / "capture", "asset": out / "asset", "relit": out / "relit",
            "glb": out / "export" / "glb" / "spot.glb", "obj": out / "export" / "obj" / "spot.obj", "report": out / "report" / html.name,
            "seconds": time.perf_counter() - t0}

