"""``relight demo``: the whole pipeline on the built-in default scene, at CPU-friendly settings.

synth (spot, 64 views, 256²) -> fit (geometry -> UVs -> material, the device's preset) -> render
(4 orbit views under another envmap) -> export (GLB + OBJ) -> report (HTML), all into one output
folder written atomically. ``quick`` shrinks every step to seconds (used by the tests).
"""

from __future__ import annotations

import time
from pathlib import Path

from relight.commands import export, fit, render, report, synth
from relight.commands.common import preset_for
from relight.commands.output import command_output
from relight.geometry.config import load_config as geometry_config
from relight.material.config import load_config as material_config
from relight.render.scene import BUILTIN_ENVMAPS, load_scene
from relight.runtime.backend import Backend
from relight.runtime.progress import Reporter


def run(out: Path, backend: Backend, *, quick: bool = False, overwrite: bool = False,
        reporter: Reporter | None = None) -> dict[str, Path | float]:
    """Run every stage into ``out``; returns the main outputs by name (with ``seconds``)."""
    rep = reporter or Reporter()
    out = Path(out)
    with command_output(out, overwrite=overwrite) as o, o.folder():  # a failed demo leaves no ``out``
        t0 = time.perf_counter()
        spec = load_scene("spot")
        preset = preset_for(backend)
        g, m = geometry_config(preset), material_config(preset)
        if quick:
            spec = spec.with_overrides(res=32, views=8, test_views=2, spp=16, test_spp=16, max_depth=3)
            g = geometry_config(preset, iterations=4, hull_res=32, levels=1, level_split=[1.0], image_res=32)
            m = material_config(preset, iterations=4, spp=2, tex_res=32, env_width=16, levels=1, level_split=[1.0])
        rep.log("1/5 synth: rendering the spot capture")
        synth.run(spec, out / "capture", backend, reporter=rep, within=o)
        rep.log("2/5 fit: geometry -> UVs -> material")
        fit.run(out / "capture", out / "asset", g, m, backend, reporter=rep, within=o)
        rep.log("3/5 render: relit under the forest envmap")
        render.run(out / "asset", out / "relit", backend, envmap=BUILTIN_ENVMAPS / "forest.exr", orbit=4,
                   res=32 if quick else 256, spp=16 if quick else 128, reporter=rep, within=o)
        rep.log("4/5 export: GLB and OBJ")
        export.run(out / "asset", out / "export" / "glb" / "spot.glb", within=o)
        export.run(out / "asset", out / "export" / "obj" / "spot.obj", within=o)
        rep.log("5/5 report")
        html = report.run(out / "asset", out / "report", backend, capture=out / "capture", spp=16 if quick else 64,
                          reporter=rep, within=o)
    return {"capture": out / "capture", "asset": out / "asset", "relit": out / "relit",
            "glb": out / "export" / "glb" / "spot.glb", "obj": out / "export" / "obj" / "spot.obj", "report": html,
            "seconds": time.perf_counter() - t0}
