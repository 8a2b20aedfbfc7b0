"""The batch manifest: which captures to reconstruct, and how (TOML, validated like every config).

::

    [defaults]                      # every key optional; these are the defaults
    stages = ["poses", "fit", "eval", "render", "export"]
    preset = "fast"                 # fast | quality (relight.geometry/material PRESETS)
    downscale = 1
    holdout_every = 0               # single-file captures: every k-th view held out for eval
    export = ["glb", "obj"]
    geometry = { iterations = 400 } # GeometryConfig fields
    material = { iterations = 200 } # MaterialConfig fields
    render = { envmap = "studio.exr", orbit = 8, res = 512, spp = 256 }
    poses = { masks = "auto", light_frame = "world" }

    [[captures]]
    path = "scans/mug"              # a capture folder (transforms.json) or a folder of photos
    [[captures]]
    glob = "scans/catalogue/*"      # every matching folder, names = folder names
    preset = "quality"              # any [defaults] key, for these captures only

Stages are skipped where they do not apply: ``poses`` runs only for a folder of photos (no
``transforms*.json``), ``eval`` only when the capture has a test split, ``render`` without a
``envmap`` renders under the asset's own recovered light. Paths are relative to the manifest's folder.
Every error names the manifest and the key, before anything runs.
"""

from __future__ import annotations

import glob as globlib
from dataclasses import dataclass, field, replace
from pathlib import Path

from relight.geometry.config import GeometryConfig
from relight.geometry.config import load_config as geometry_config
from relight.material.config import MaterialConfig
from relight.material.config import load_config as material_config
from relight.runtime.config import COMMAND_LINE, from_dict, read_toml
from relight.runtime.errors import RelightError

STAGES = ("poses", "fit", "eval", "render", "export")
FORMATS = ("glb", "obj")


@dataclass(frozen=True)
class RenderSettings:
    """The ``render`` stage (``relight render`` of the fitted asset)."""

    envmap: str = ""
    """HDR environment map to relight with (empty: the asset's own recovered light)."""
    orbit: int = 8
    """Cameras on a ring around the object."""
    res: int = 256
    spp: int = 64

    def __post_init__(self):
        if not (1 <= self.orbit <= 10000 and 8 <= self.res <= 16384 and 1 <= self.spp <= 65536):
            raise ValueError("orbit must be 1..10000, res 8..16384, spp 1..65536")


@dataclass(frozen=True)
class PosesSettings:
    """The ``poses`` stage (``relight poses``), for captures given as a folder of photos."""

    masks: str = "auto"
    """``auto`` (the folder's own ``masks/`` when it has one, as an LLFF dataset does, else
    automatic masks), or a mask folder relative to the photo folder (``<photo stem>.png``)."""
    light_frame: str = "world"
    """``world`` (light fixed to the object) or ``rig`` (turntable: light fixed to the camera)."""

    def __post_init__(self):
        if self.light_frame not in ("world", "rig"):
            raise ValueError("light_frame must be 'world' or 'rig'")


@dataclass(frozen=True)
class Settings:
    """How one capture is processed: the ``[defaults]`` table, updated per capture entry."""

    stages: list[str] = field(default_factory=lambda: list(STAGES))
    preset: str = "fast"
    downscale: int = 1
    holdout_every: int = 0
    export: list[str] = field(default_factory=lambda: list(FORMATS))
    geometry: dict = field(default_factory=dict)
    """GeometryConfig fields overriding the preset."""
    material: dict = field(default_factory=dict)
    """MaterialConfig fields overriding the preset."""
    render: RenderSettings = field(default_factory=RenderSettings)
    poses: PosesSettings = field(default_factory=PosesSettings)

    def __post_init__(self):
        bad = [s for s in self.stages if s not in STAGES]
        if bad or not self.stages:
            raise ValueError(f"stages must be a non-empty list of {list(STAGES)}, got {self.stages}")
        if "fit" not in self.stages and any(s in self.stages for s in ("eval", "render", "export")):
            raise ValueError("eval, render and export need the fit stage (add \"fit\" to stages)")
        bad = [f for f in self.export if f not in FORMATS]
        if bad:
            raise ValueError(f"export formats are {list(FORMATS)}, got {bad}")
        if not (1 <= self.downscale <= 64 and 0 <= self.holdout_every <= 100000):
            raise ValueError("downscale must be 1..64 and holdout_every 0..100000")


@dataclass(frozen=True)
class BatchItem:
    """One capture of the batch, with everything its task needs."""

    name: str
    """Its output folder's name under the batch's output folder (unique)."""
    path: Path
    settings: Settings
    geometry: GeometryConfig
    material: MaterialConfig


_ENTRY_KEYS = ("path", "glob", "name")


def _merge(base: dict, over: dict) -> dict:
    """``base`` updated by ``over``; tables (dicts) are merged key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def settings_of(data: dict, src: Path | None, preset: str | None = None) -> tuple[Settings, GeometryConfig,
                                                                                 MaterialConfig]:
    """Validated settings and the stage configs they make (``preset`` from the command line wins)."""
    s = from_dict(Settings, data, src)
    if preset is not None:
        s = replace(s, preset=preset)
    origin = src if preset is None else COMMAND_LINE
    try:
        g = geometry_config(s.preset, **s.geometry)
        m = material_config(s.preset, **s.material)
    except RelightError as e:  # the keys came from the manifest: name it, not the command line
        raise RelightError(e.problem, path=origin, fix=e.fix) from None
    return s, g, m


def _paths(entry: dict, root: Path, src: Path, i: int) -> list[Path]:
    has = [k for k in ("path", "glob") if k in entry]
    if len(has) != 1:
        raise RelightError(f"captures[{i}] needs exactly one of 'path' or 'glob'", path=src,
                           fix='write path = "folder" or glob = "folder/*"')
    value = entry[has[0]]
    if not isinstance(value, str) or not value:
        raise RelightError(f"'captures[{i}].{has[0]}' must be a non-empty string", path=src, fix="quote the path")
    if has[0] == "path":
        p = (root / value).resolve()
        if not p.is_dir():
            raise RelightError(f"captures[{i}]: folder not found: {p}", path=src,
                               fix="correct the path (relative to the manifest's folder)")
        return [p]
    found = sorted(Path(p).resolve() for p in globlib.glob(str(root / value)) if Path(p).is_dir())
    if not found:
        raise RelightError(f"captures[{i}]: the glob {value!r} matches no folder", path=src,
                           fix="correct the pattern (relative to the manifest's folder)")
    return found


def load_manifest(path: Path, preset: str | None = None) -> list[BatchItem]:
    """Read and validate the manifest at ``path``: every capture with its settings, in order."""
    path = Path(path)
    data = read_toml(path)
    unknown = sorted(set(data) - {"defaults", "captures"})
    if unknown:
        raise RelightError(f"unknown table '{unknown[0]}'", path=path, fix="use [defaults] and [[captures]]")
    defaults = data.get("defaults", {})
    entries = data.get("captures", [])
    if not isinstance(defaults, dict):
        raise RelightError("'defaults' must be a table", path=path, fix="write [defaults]")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise RelightError("no captures listed", path=path, fix='add [[captures]] tables with path = "..."')
    settings_of(defaults, path, preset)  # a bad default is reported once, as the defaults' error
    items: list[BatchItem] = []
    for i, entry in enumerate(entries):
        over = {k: v for k, v in entry.items() if k not in _ENTRY_KEYS}
        s, g, m = settings_of(_merge(defaults, over), path, preset)
        paths = _paths(entry, path.parent, path, i)
        if "name" in entry and (len(paths) != 1 or not isinstance(entry["name"], str) or not entry["name"]):
            raise RelightError(f"captures[{i}]: 'name' must be a string and goes with one path, not a glob",
                               path=path, fix="remove 'name' or use 'path'")
        if s.render.envmap:
            env = (path.parent / s.render.envmap).resolve()
            if not env.is_file():
                raise RelightError(f"captures[{i}]: render.envmap not found: {env}", path=path,
                                   fix="correct the path (relative to the manifest's folder)")
            s = replace(s, render=replace(s.render, envmap=str(env)))
        for p in paths:
            items.append(BatchItem(entry.get("name", p.name), p, s, g, m))
    names: dict[str, Path] = {}
    for it in items:
        if it.name.startswith(".") or "/" in it.name:
            raise RelightError(f"capture name {it.name!r} cannot be an output folder name", path=path,
                               fix="give the capture a plain name = \"...\"")
        if it.name in names:
            raise RelightError(f"two captures would be written to the same folder '{it.name}' "
                               f"({names[it.name]} and {it.path})", path=path,
                               fix="give one of them its own name = \"...\"")
        names[it.name] = it.path
    return items
