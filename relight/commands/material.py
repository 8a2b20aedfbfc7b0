"""``relight material``: fit textures and envmap on a fixed mesh and write the asset folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from relight.commands.common import load_test, require_in_view, require_masks
from relight.commands.output import command_output, plot_losses
from relight.data.asset import save_asset
from relight.data.capture_io import capture_memory, load_capture
from relight.data.mesh import load_mesh
from relight.evaluation.evaluate import EvalResult, evaluate
from relight.material.config import MaterialConfig
from relight.material.fit import MaterialResult, fit_material
from relight.material.uv import unwrap
from relight.runtime.backend import Backend
from relight.runtime.fingerprint import file_fingerprint, folder_fingerprint, run_fingerprint
from relight.runtime.progress import Reporter
from relight.runtime.resources import FIX_CAPTURE, estimate_fit


def material_loss_title(cfg: MaterialConfig) -> str:
    return f"material stage ({cfg.loss}, linear HDR)"


def run(capture: Path, mesh_path: Path, out: Path, cfg: MaterialConfig, backend: Backend, *,
        resume: bool = False, overwrite: bool = False, evaluate_after: bool = True, downscale: int = 1,
        max_memory: str | int | None = None,
        reporter: Reporter | None = None, configs: Sequence[Path | None] = ()) -> tuple[MaterialResult, EvalResult | None]:
    """Fit the materials and light of ``mesh_path`` (unwrapped with xatlas when it has no UVs) to
    ``capture``; write the asset folder ``out``; evaluate on the test split when there is one.
    ``configs``: the TOML files the settings came from (inputs the output must not touch)."""
    rep = reporter or Reporter()

    def memory():
        return estimate_fit(capture_memory(capture, downscale), backend.device, mcfg=cfg)

    with command_output(out, overwrite=overwrite, command="relight material", inputs=[capture, mesh_path, *configs],
                        memory=memory,
                        max_memory=max_memory, fix=FIX_CAPTURE, checkpoints=True, resume=resume) as o:
        train = require_masks(load_capture(capture, "train", downscale=downscale), capture)
        mesh = load_mesh(mesh_path)
        require_in_view(mesh, train, mesh_path)
        if mesh.uvs is None:
            rep.log(f"{mesh_path}: no UVs, unwrapping with xatlas")
            mesh = unwrap(mesh, cfg.tex_res)
        inputs = run_fingerprint(capture=folder_fingerprint(capture), mesh=file_fingerprint(mesh_path),
                                 downscale=downscale)
        result = fit_material(train, mesh.with_normals(), cfg, backend, checkpoint_dir=o.checkpoints,
                              resume=resume, reporter=rep, inputs=inputs)
        metrics = None
        test = load_test(capture, downscale) if evaluate_after else None
        if test is not None:
            metrics = evaluate(result.asset, test, backend, reporter=rep)
        with o.folder() as tmp:
            extra = {"capture": str(capture), "mesh": str(mesh_path)}
            if metrics is not None:
                extra["metrics"] = metrics.to_json()
                o.write_metrics(tmp, metrics)
            save_asset(result.asset, tmp, extra)
            plot_losses(result.losses, tmp / "loss.png", material_loss_title(cfg))
    rep.log(f"wrote {out} in {result.seconds:.0f} s ({result.seconds_per_step:.3f} s/step, "
            f"primal render {result.primal_seconds:.3f} s)")
    return result, metrics
