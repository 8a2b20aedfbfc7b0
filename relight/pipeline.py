"""Runners of ``relight geometry`` and ``relight fit`` (geometry -> UV unwrap -> material).

Each loads its inputs, runs the stages with checkpoints in a hidden folder beside the output,
and writes the output folder atomically (``relight.io.paths.atomic_dir``).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relight.asset import save_asset
from relight.backend import Backend
from relight.capture import Capture
from relight.config import to_dict
from relight.errors import RelightError
from relight.evaluate import EvalResult, evaluate
from relight.geometry import GeometryConfig, GeometryResult, fit_geometry
from relight.geometry_metrics import evaluate_geometry
from relight.io.capture_io import load_capture
from relight.io.paths import atomic_dir, check_output_dir, write_text_atomic
from relight.material import MaterialConfig, fit_material
from relight.mesh import Mesh, write_obj
from relight.progress import Reporter
from relight.raster import make_raster
from relight.resources import FIX_CAPTURE, check_memory, estimate_fit
from relight.stages import checkpoint_dir_for, gt_mesh_of, plot_losses
from relight.uv import unwrap


@dataclass(frozen=True)
class CaptureSplits:
    train: Capture
    test: Capture | None


def load_splits(capture: Path, downscale: int = 1, holdout_every: int = 0) -> CaptureSplits:
    """Train split (masks required) and the test split when there is one."""
    train = load_capture(capture, "train", downscale=downscale, holdout_every=holdout_every)
    if not train.has_masks:
        raise RelightError("capture has no masks (no alpha channel or mask_path)", path=capture,
                           fix="add RGBA images or per-frame mask_path entries")
    try:
        test = load_capture(capture, "test", downscale=downscale, holdout_every=holdout_every)
    except RelightError:
        test = None
    return CaptureSplits(train, test)


def _write_geometry(tmp: Path, res: GeometryResult, cfg: GeometryConfig, metrics: dict | None, extra: dict) -> None:
    import trimesh

    write_obj(tmp / "mesh.obj", res.mesh)
    colors = (np.clip(res.colors, 0, 1) * 255).astype(np.uint8)
    trimesh.Trimesh(res.mesh.vertices, res.mesh.faces, vertex_colors=colors, process=False).export(
        tmp / "mesh_colors.ply")
    tm = trimesh.Trimesh(res.mesh.vertices, res.mesh.faces, process=False)
    info = {"stage": "geometry", "config": to_dict(cfg),
            "seconds": round(res.seconds, 2), "seconds_per_step": round(res.seconds_per_step, 4),
            "vertices": len(res.mesh.vertices), "faces": len(res.mesh.faces), "hull_faces": res.hull_faces,
            "watertight": bool(tm.is_watertight), "winding_consistent": bool(tm.is_winding_consistent),
            "metrics": metrics} | extra
    (tmp / "geometry.json").write_text(json.dumps(info, indent=2) + "\n")
    plot_losses(res.losses, tmp / "geometry_loss.png", "geometry stage (silhouette + photometric)")


def run_geometry(capture: Path, out: Path, cfg: GeometryConfig, backend: Backend, *, resume: bool = False,
                 overwrite: bool = False, downscale: int = 1, holdout_every: int = 0,
                 max_memory: str | int | None = None,
                 reporter: Reporter | None = None) -> tuple[GeometryResult, dict | None]:
    """``relight geometry``: mesh (OBJ), per-vertex colours (PLY), metrics and loss plot in ``out``.

    ``max_memory`` (bytes or ``"8G"``; None = available RAM) bounds the estimated peak memory.
    """
    rep = reporter or Reporter()
    check_output_dir(out, overwrite)
    est = estimate_fit(capture, backend.device, cfg, downscale=downscale, holdout_every=holdout_every)
    check_memory(est, max_memory, "relight geometry", FIX_CAPTURE)
    splits = load_splits(capture, downscale, holdout_every)
    raster = make_raster(backend.device)
    ckpt = checkpoint_dir_for(out)
    if not resume and ckpt.exists():
        shutil.rmtree(ckpt)
    res = fit_geometry(splits.train, cfg, raster, checkpoint_dir=ckpt, resume=resume, reporter=rep)
    metrics = None
    if splits.test is not None:
        metrics = evaluate_geometry(res.mesh, res.colors, splits.test, raster, gt_mesh_of(capture))
    with atomic_dir(out, overwrite) as tmp:
        _write_geometry(tmp, res, cfg, metrics, {"capture": str(capture), "raster": raster.name})
    shutil.rmtree(ckpt, ignore_errors=True)
    rep.log(f"wrote {out} in {res.seconds:.0f} s ({len(res.mesh.faces)} faces)")
    return res, metrics


@dataclass(frozen=True)
class FitResult:
    geometry: GeometryResult
    geometry_metrics: dict | None
    material_seconds: float
    unwrap_seconds: float
    metrics: EvalResult | None
    material_seconds_per_step: float = 0.0
    material_primal_seconds: float = 0.0
    """One plain render of a training view at the material stage's spp (the cost floor)."""


def run_fit(capture: Path, out: Path, gcfg: GeometryConfig, mcfg: MaterialConfig, backend: Backend, *,
            resume: bool = False, overwrite: bool = False, evaluate_after: bool = True, downscale: int = 1,
            max_memory: str | int | None = None, reporter: Reporter | None = None) -> FitResult:
    """``relight fit``: geometry -> xatlas UVs -> material stage -> asset folder ``out``.

    Resuming skips a finished geometry stage (its result is kept in the checkpoint folder).
    ``max_memory`` (bytes or ``"8G"``; None = available RAM) bounds the estimated peak memory.
    """
    rep = reporter or Reporter()
    check_output_dir(out, overwrite)
    check_memory(estimate_fit(capture, backend.device, gcfg, mcfg, downscale=downscale), max_memory,
                 "relight fit", FIX_CAPTURE)
    splits = load_splits(capture, downscale)
    ckpt = checkpoint_dir_for(out)
    if not resume and ckpt.exists():
        shutil.rmtree(ckpt)
    gdir, mdir = ckpt / "geometry", ckpt / "material"
    raster = make_raster(backend.device)
    done = gdir / "done"
    if resume and done.is_file():
        from relight.geometry import load_checkpoint

        ck = load_checkpoint(gdir, gcfg)
        geo = GeometryResult(Mesh(ck.verts, ck.faces).with_normals(), ck.colors, ck.losses, 0.0, 0.0, -1)
        rep.log(f"resuming after the geometry stage ({ck.step} steps done)")
    else:
        geo = fit_geometry(splits.train, gcfg, raster, checkpoint_dir=gdir,
                           resume=resume and (gdir / "geom.npz").is_file(), reporter=rep)
        write_text_atomic(done, "geometry stage finished\n")
    gmetrics = None
    if splits.test is not None:
        gmetrics = evaluate_geometry(geo.mesh, geo.colors, splits.test, raster, gt_mesh_of(capture))
    t = time.perf_counter()
    mesh = unwrap(geo.mesh, mcfg.tex_res).with_normals()
    t_uv = time.perf_counter() - t
    mres = fit_material(splits.train, mesh, mcfg, backend, checkpoint_dir=mdir,
                        resume=resume and (mdir / "ckpt.npz").is_file(), reporter=rep)
    metrics = None
    if evaluate_after and splits.test is not None:
        metrics = evaluate(mres.asset, splits.test, backend, reporter=rep, gt_mesh=gt_mesh_of(capture))
    with atomic_dir(out, overwrite) as tmp:
        extra = {"capture": str(capture), "geometry": {"seconds": round(geo.seconds, 2), "metrics": gmetrics,
                                                        "faces": len(geo.mesh.faces)},
                 "unwrap_seconds": round(t_uv, 2)}
        if metrics is not None:
            extra["metrics"] = metrics.to_json()
            (tmp / "metrics.json").write_text(json.dumps(metrics.to_json(), indent=2) + "\n")
            (tmp / "metrics.md").write_text(metrics.to_markdown())
        save_asset(mres.asset, tmp, extra)
        plot_losses(geo.losses, tmp / "geometry_loss.png", "geometry stage (silhouette + photometric)")
        plot_losses(mres.losses, tmp / "loss.png", f"material stage ({mcfg.loss}, linear HDR)")
    shutil.rmtree(ckpt, ignore_errors=True)
    rep.log(f"wrote {out}: geometry {geo.seconds:.0f} s, unwrap {t_uv:.0f} s, material {mres.seconds:.0f} s")
    return FitResult(geo, gmetrics, mres.seconds, t_uv, metrics, mres.seconds_per_step, mres.primal_seconds)
