"""``relight geometry``: a watertight mesh from a capture's masks and images.

Writes ``mesh.obj``, ``mesh_colors.ply`` (per-vertex sRGB colour), ``geometry.json`` (settings,
timings, metrics on the test split, each photo's fitted colour factor) and ``geometry_loss.png``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh

from relight.commands.common import gt_mesh_of, load_splits
from relight.commands.output import command_output, plot_losses
from relight.data.capture_io import capture_memory
from relight.data.mesh import write_obj
from relight.evaluation.geometry import evaluate_geometry
from relight.geometry.config import GeometryConfig
from relight.geometry.fit import GeometryResult, fit_geometry
from relight.geometry.raster import make_raster
from relight.runtime.backend import Backend
from relight.runtime.config import to_dict
from relight.runtime.fingerprint import folder_fingerprint, run_fingerprint
from relight.runtime.progress import Reporter
from relight.runtime.resources import FIX_CAPTURE, estimate_fit

GEOMETRY_LOSS_TITLE = "geometry stage (silhouette + photometric)"


def write_geometry(folder: Path, res: GeometryResult, cfg: GeometryConfig, metrics: dict | None, extra: dict) -> None:
    """The geometry stage's files into ``folder``."""

    write_obj(folder / "mesh.obj", res.mesh)
    colors = (np.clip(res.colors, 0, 1) * 255).astype(np.uint8)
    trimesh.Trimesh(res.mesh.vertices, res.mesh.faces, vertex_colors=colors, process=False).export(
        folder / "mesh_colors.ply")
    tm = trimesh.Trimesh(res.mesh.vertices, res.mesh.faces, process=False)
    info = {"stage": "geometry", "config": to_dict(cfg),
            "seconds": round(res.seconds, 2), "seconds_per_step": round(res.seconds_per_step, 4),
            "vertices": len(res.mesh.vertices), "faces": len(res.mesh.faces), "hull_faces": res.hull_faces,
            "watertight": bool(tm.is_watertight), "winding_consistent": bool(tm.is_winding_consistent),
            "metrics": metrics} | extra
    if res.view_gains is not None:  # the photos' exposure / white balance, as fitted with the shape
        info["view_gains"] = np.round(res.view_gains, 4).tolist()
    (folder / "geometry.json").write_text(json.dumps(info, indent=2) + "\n")
    plot_losses(res.losses, folder / "geometry_loss.png", GEOMETRY_LOSS_TITLE)


def run(capture: Path, out: Path, cfg: GeometryConfig, backend: Backend, *, resume: bool = False,
        overwrite: bool = False, downscale: int = 1, holdout_every: int = 0, max_memory: str | int | None = None,
        reporter: Reporter | None = None, configs: Sequence[Path | None] = ()) -> tuple[GeometryResult, dict | None]:
    """Fit the mesh of ``capture`` into the folder ``out``; returns it and its test metrics.

    ``max_memory`` (bytes or ``"8G"``; None = available RAM) bounds the estimated peak memory.
    ``configs``: the TOML files the settings came from (inputs the output must not touch).
    """
    rep = reporter or Reporter()

    def memory():
        return estimate_fit(capture_memory(capture, downscale, holdout_every), backend.device, cfg)

    with command_output(out, overwrite=overwrite, command="relight geometry", inputs=[capture, *configs], memory=memory,
                        max_memory=max_memory, fix=FIX_CAPTURE, checkpoints=True, resume=resume) as o:
        splits = load_splits(capture, downscale, holdout_every)
        raster = make_raster(backend.torch_device)
        inputs = run_fingerprint(capture=folder_fingerprint(capture), downscale=downscale, holdout_every=holdout_every)
        res = fit_geometry(splits.train, cfg, raster, checkpoint_dir=o.checkpoints, resume=resume, reporter=rep,
                           inputs=inputs)
        metrics = None
        if splits.test is not None:
            metrics = evaluate_geometry(res.mesh, res.colors, splits.test, raster, gt_mesh_of(capture))
        with o.folder() as tmp:
            write_geometry(tmp, res, cfg, metrics, {"capture": str(capture), "raster": raster.name})
    rep.log(f"wrote {out} in {res.seconds:.0f} s ({len(res.mesh.faces)} faces)")
    return res, metrics
