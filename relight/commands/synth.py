"""``relight synth``: render a ground-truth capture of a built-in scene or a scene TOML
(library side: :func:`relight.render.synth.synthesize`)."""

from __future__ import annotations

from pathlib import Path

from relight.commands.output import Output, command_output
from relight.render.photos import render_photos
from relight.render.scene import SceneSpec, load_scene
from relight.render.synth import SynthResult, synth_memory, synthesize
from relight.runtime.backend import Backend
from relight.runtime.progress import Reporter


def run(scene: str | Path | SceneSpec, out: Path, backend: Backend, *, overwrite: bool = False,
        max_memory: str | int | None = None, reporter: Reporter | None = None, within: Output | None = None,
        photos: bool = False, **overrides) -> SynthResult:
    """Render ``scene`` (a name, a TOML path or a loaded spec; ``overrides`` such as ``res`` or
    ``views`` replace its camera settings, None ignored) into the capture folder ``out``.
    ``max_memory`` (bytes or ``"8G"``; None = available RAM) bounds the estimated peak memory.
    ``photos``: write the training views as a camera would deliver them (``OUT/photos``, JPEG,
    backdrop, exposure, distortion) and the capture as their truth (``OUT/truth``):
    :mod:`relight.render.photos`."""
    spec = scene if isinstance(scene, SceneSpec) else load_scene(scene)
    spec = spec.with_overrides(**overrides)
    if photos and spec.cameras.layout == "sphere":  # the object stands on a floor: cameras above it
        spec = spec.with_overrides(layout="hemisphere", min_elevation_deg=10.0)
    source = Path(scene) if isinstance(scene, (str, Path)) and Path(scene).suffix == ".toml" else None
    with command_output(out, overwrite=overwrite, command="relight synth", inputs=[source],
                        memory=lambda: synth_memory(spec, backend.device),
                        max_memory=max_memory, fix="lower --res or --views, or raise --max-memory",
                        within=within) as o, o.folder() as tmp:
        if not photos:
            return synthesize(spec, out, backend, folder=tmp, reporter=reporter)
        res = synthesize(spec, out / "truth", backend, folder=tmp / "truth", reporter=reporter)
        render_photos(spec, backend, tmp, reporter=reporter)
        return res
