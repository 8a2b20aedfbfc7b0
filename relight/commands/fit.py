"""``relight fit``: the whole pipeline — geometry -> xatlas UVs -> material -> asset folder.

Checkpoints of both stages live in the hidden ``.OUT.ckpt/{geometry,material}``; with ``resume``
a finished geometry stage (its ``done`` marker) is not redone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from relight.commands.common import gt_mesh_of, load_splits, reference_of
from relight.commands.geometry import GEOMETRY_LOSS_TITLE
from relight.commands.material import material_loss_title
from relight.commands.output import Output, command_output, locate, plot_losses
from relight.data.asset import save_asset
from relight.data.capture_io import capture_memory
from relight.evaluation.evaluate import EvalResult, evaluate
from relight.evaluation.geometry import evaluate_geometry
from relight.geometry.config import GeometryConfig
from relight.geometry.fit import GeometryResult, fit_geometry, result_mesh
from relight.geometry.raster import make_raster
from relight.geometry.state import load_checkpoint
from relight.material.config import MaterialConfig
from relight.material.fit import fit_material
from relight.material.uv import unwrap
from relight.runtime.backend import Backend
from relight.runtime.fingerprint import folder_fingerprint, run_fingerprint
from relight.runtime.paths import write_text_atomic
from relight.runtime.progress import Reporter
from relight.runtime.resources import FIX_CAPTURE, estimate_fit


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


def run(capture: Path, out: Path, gcfg: GeometryConfig, mcfg: MaterialConfig, backend: Backend, *,
        resume: bool = False, overwrite: bool = False, evaluate_after: bool = True, downscale: int = 1,
        holdout_every: int = 0, max_memory: str | int | None = None, reporter: Reporter | None = None,
        within: Output | None = None, configs: Sequence[Path | None] = (),
        noise_free: bool = False) -> FitResult:
    """Reconstruct the asset of ``capture`` into the folder ``out``.

    ``max_memory`` (bytes or ``"8G"``; None = available RAM) bounds the estimated peak memory.
    ``within``: the enclosing command's output when ``out`` and ``capture`` lie inside it.
    ``configs``: the TOML files the settings came from (inputs the output must not touch).
    ``holdout_every = k > 0``: a single-file capture's every k-th view is held out for evaluation.
    ``noise_free``: the evaluation also scores relighting without the renders' noise (a
    synthetic capture: :func:`relight.commands.common.reference_of`; benches).
    """
    rep = reporter or Reporter()
    source = locate(within, capture)

    def memory():
        return estimate_fit(capture_memory(source, downscale, holdout_every), backend.device, gcfg, mcfg)

    with command_output(out, overwrite=overwrite, command="relight fit", inputs=[capture, *configs], memory=memory,
                        max_memory=max_memory,
                        fix=FIX_CAPTURE, checkpoints=True, resume=resume, within=within) as o:
        splits = load_splits(source, downscale, holdout_every)
        scored = evaluate_after and splits.test is not None
        reference = reference_of(source, splits.test) if noise_free and scored else None
        gdir, mdir = o.checkpoints / "geometry", o.checkpoints / "material"
        inputs = run_fingerprint(capture=folder_fingerprint(source), downscale=downscale, holdout_every=holdout_every)
        raster = make_raster(backend.torch_device)
        done = gdir / "done"
        if resume and done.is_file():
            ck = load_checkpoint(gdir, gcfg, inputs)
            geo = GeometryResult(result_mesh(ck.verts, ck.faces, gcfg), ck.colors, ck.losses, 0.0, 0.0, -1)
            rep.resumed("geometry (finished)", ck.step)
        else:
            geo = fit_geometry(splits.train, gcfg, raster, checkpoint_dir=gdir,
                               resume=resume and (gdir / "geom.npz").is_file(), reporter=rep, inputs=inputs)
            write_text_atomic(done, "geometry stage finished\n")
        gmetrics = None
        if evaluate_after and splits.test is not None:
            gmetrics = evaluate_geometry(geo.mesh, geo.colors, splits.test, raster, gt_mesh_of(source))
        t = time.perf_counter()
        mesh = unwrap(geo.mesh, mcfg.tex_res).with_normals()
        t_uv = time.perf_counter() - t
        mres = fit_material(splits.train, mesh, mcfg, backend, checkpoint_dir=mdir,
                            resume=resume and (mdir / "ckpt.npz").is_file(), reporter=rep, inputs=inputs)
        metrics = None
        if evaluate_after and splits.test is not None:
            metrics = evaluate(mres.asset, splits.test, backend, reporter=rep, gt_mesh=gt_mesh_of(source),
                               reference=reference)
        with o.folder() as tmp:
            extra = {"capture": str(capture), "geometry": {"seconds": round(geo.seconds, 2), "metrics": gmetrics,
                                                            "faces": len(geo.mesh.faces)},
                     "unwrap_seconds": round(t_uv, 2)}
            if metrics is not None:
                extra["metrics"] = metrics.to_json()
                o.write_metrics(tmp, metrics)
            save_asset(mres.asset, tmp, extra)
            plot_losses(geo.losses, tmp / "geometry_loss.png", GEOMETRY_LOSS_TITLE)
            plot_losses(mres.losses, tmp / "loss.png", material_loss_title(mcfg))
    rep.log(f"wrote {out}: geometry {geo.seconds:.0f} s, unwrap {t_uv:.0f} s, material {mres.seconds:.0f} s")
    return FitResult(geo, gmetrics, mres.seconds, t_uv, metrics, mres.seconds_per_step, mres.primal_seconds)
