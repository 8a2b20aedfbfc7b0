"""The outside checks of the sunlit-light work: objects and lights that are not built-in scenes.

* ``bunny``: the Stanford bunny (``../shared``, non-commercial: nothing of it is copied into the
  repository, and no image of it may be committed), unwrapped with xatlas, a noise albedo and
  roughness, trained under the sunlit CC0 ``quarry_01``, relit under ``royal_esplanade`` and
  ``quarry_01`` turned 120 degrees.
* ``spotsun``: spot's mesh, texture and roughness trained under ``quarry_01`` instead of
  ``courtyard``, relit under spot's five lights.

Each is written as a scene TOML under ``out/outside/<name>`` and synthesized as bench_suite's
captures are (64 + 8 views at 256²) into ``out/bench/suite/<name>``, where ``bench_levers.py
--object <name>`` finds it. Session 25 drew the bunny's capture anew with this script (sessions
20-24 used an earlier, unrecorded noise texture): compare rows of one capture only.

* ``armadillo``: the Stanford armadillo (``../shared``, non-commercial, as the bunny), a noise
  albedo, trained under the CC0 ``venice_sunset``: an outside check of the geometry stage's
  photo-consistency carving (session 33), crevices between limbs that silhouettes do not reveal.
* ``armadillosun``: the same armadillo and materials trained under the sunlit CC0
  ``royal_esplanade`` and relit under ``venice_sunset`` and ``spruit_sunrise``: an outside check
  of the material stage's light pilot (session 36), which did not set its threshold.

Usage: .venv/bin/python bench/outside_scenes.py [bunny] [spotsun] [armadillo] [armadillosun]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared/data"
CAMERAS = """[cameras]
views = 64
test_views = 8
layout = "sphere"
radius = 3.2
fov_deg = 40.0
res = 256
spp = 64
max_depth = 6
"""


def _mesh_scene(folder: Path, name: str, mesh: str, description: str, material: str, light: str) -> Path:
    """Write ``folder/name.obj`` (the ``../shared`` mesh ``mesh``, normalized to radius 0.9 and
    unwrapped with xatlas) and the scene TOML ``folder/name.toml`` around it."""
    from relight.data.mesh import load_mesh, write_obj
    from relight.material.uv import unwrap

    folder.mkdir(parents=True, exist_ok=True)
    write_obj(folder / f"{name}.obj", unwrap(load_mesh(SHARED / mesh).normalized(0.9), 1024))
    (folder / f"{name}.toml").write_text(f'''# Outside check (not a built-in scene): bench/outside_scenes.py
description = "{description}"
[mesh]
file = "{name}.obj"
radius = 0.9
[material]
{material}
[light]
{light}
{CAMERAS}''')
    return folder / f"{name}.toml"


ENV = SHARED / "envmaps"
MESH_SCENES = {
    "bunny": ("meshes/stanford_bunny/stanford-bunny.obj", "Stanford bunny under a sun",
              'albedo = { type = "noise", colors = [[0.75, 0.65, 0.45], [0.35, 0.5, 0.3]], scale = 4, octaves = 4, seed = 5, resolution = 512 }\n'
              'roughness = { type = "noise", colors = [[0.3], [0.8]], scale = 3, octaves = 3, seed = 9, resolution = 256 }',
              f'envmap = "{ENV / "quarry_01_1k.hdr"}"\n'
              f'relight = [{{ envmap = "{ENV / "royal_esplanade_1k.hdr"}" }}, {{ envmap = "{ENV / "quarry_01_1k.hdr"}", rotation_deg = 120.0 }}]'),
    # limbs, claws and crevices that no silhouette reveals; a soft training light
    "armadillo": ("meshes/armadillo/armadillo.obj", "Stanford armadillo under a soft sunset",
                  'albedo = { type = "noise", colors = [[0.8, 0.55, 0.35], [0.25, 0.35, 0.55]], scale = 6, octaves = 4, seed = 3, resolution = 512 }\n'
                  'roughness = { type = "noise", colors = [[0.35], [0.8]], scale = 3, octaves = 3, seed = 4, resolution = 256 }',
                  f'envmap = "{ENV / "venice_sunset_1k.hdr"}"\n'
                  f'relight = [{{ envmap = "{ENV / "royal_esplanade_1k.hdr"}" }}, {{ envmap = "{ENV / "spruit_sunrise_1k.hdr"}" }}]'),
    # session 36: an outside check of the light pilot, not among the captures that set its threshold
    "armadillosun": ("meshes/armadillo/armadillo.obj", "Stanford armadillo in a sunlit plaza",
                     'albedo = { type = "noise", colors = [[0.8, 0.55, 0.35], [0.25, 0.35, 0.55]], scale = 6, octaves = 4, seed = 3, resolution = 512 }\n'
                     'roughness = { type = "noise", colors = [[0.35], [0.8]], scale = 3, octaves = 3, seed = 4, resolution = 256 }',
                     f'envmap = "{ENV / "royal_esplanade_1k.hdr"}"\n'
                     f'relight = [{{ envmap = "{ENV / "venice_sunset_1k.hdr"}" }}, {{ envmap = "{ENV / "spruit_sunrise_1k.hdr"}" }}]'),
}
"""Scenes around a ``../shared`` mesh (non-commercial: nothing of them is copied into the repository):
name -> (mesh, description, [material] lines, [light] lines)."""


def spotsun(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    scenes = ROOT / "scenes"
    text = (scenes / "spot.toml").read_text()
    text = text.replace('envmap = "envmaps/courtyard.exr"', f'envmap = "{SHARED / "envmaps/quarry_01_1k.hdr"}"')
    text = text.replace('"envmaps/', f'"{scenes}/envmaps/').replace('"spot/', f'"{scenes}/spot/')
    (folder / "spotsun.toml").write_text("# Outside check (not a built-in scene): bench/outside_scenes.py\n" + text)
    return folder / "spotsun.toml"


def main() -> None:
    if not SHARED.is_dir():
        sys.exit(f"{SHARED}: not found (the outside checks need ../shared/data)")
    for name in sys.argv[1:] or ["bunny", "spotsun"]:
        folder = ROOT / "out/outside" / name
        toml = spotsun(folder) if name == "spotsun" else _mesh_scene(folder, name, *MESH_SCENES[name])
        subprocess.run([str(ROOT / ".venv/bin/relight"), "synth", str(toml), "-o", str(ROOT / "out/bench/suite" / name),
                        "--res", "256", "--views", "64", "-q"], check=True)


if __name__ == "__main__":
    main()
