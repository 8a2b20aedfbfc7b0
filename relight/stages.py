"""Stage runners behind the CLI: load inputs, run one stage, write its output atomically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from relight.asset import load_asset, save_asset
from relight.backend import Backend
from relight.errors import RelightError
from relight.evaluate import EVAL_SPP, EvalResult, evaluate
from relight.io.capture_io import load_capture
from relight.io.paths import atomic_dir, check_output_dir, write_text_atomic
from relight.material import MaterialConfig, MaterialResult, fit_material
from relight.mesh import load_mesh
from relight.progress import Reporter
from relight.resources import FIX_CAPTURE, check_memory, estimate_fit
from relight.uv import unwrap


def checkpoint_dir_for(out: Path) -> Path:
    """Where a stage writing ``out`` keeps its checkpoints (a hidden sibling folder)."""
    out = Path(out)
    return out.parent / f".{out.name}.ckpt"


def plot_losses(losses: list[float], path: Path, title: str) -> None:
    """Loss curve (log scale, with a moving average) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    x = np.arange(1, len(losses) + 1)
    ax.plot(x, losses, lw=0.6, alpha=0.5, label="loss")
    k = max(1, len(losses) // 25)
    if len(losses) > k:
        ax.plot(x[k - 1:], np.convolve(losses, np.ones(k) / k, mode="valid"), lw=1.5, label=f"mean of {k}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_material(capture: Path, mesh_path: Path, out: Path, cfg: MaterialConfig, backend: Backend, *,
                 resume: bool = False, overwrite: bool = False, evaluate_after: bool = True, downscale: int = 1,
                 max_memory: str | int | None = None,
                 reporter: Reporter | None = None) -> tuple[MaterialResult, EvalResult | None]:
    """``relight material``: fit textures + envmap on a fixed mesh and write the asset folder."""
    rep = reporter or Reporter()
    check_output_dir(out, overwrite)
    check_memory(estimate_fit(capture, backend.device, mcfg=cfg, downscale=downscale), max_memory,
                 "relight material", FIX_CAPTURE)
    train = load_capture(capture, "train", downscale=downscale)
    if not train.has_masks:
        raise RelightError("capture has no masks (no alpha channel or mask_path)", path=capture,
                           fix="add RGBA images or per-frame mask_path entries")
    mesh = load_mesh(mesh_path)
    if mesh.uvs is None:
        rep.log(f"{mesh_path}: no UVs, unwrapping with xatlas")
        mesh = unwrap(mesh, cfg.tex_res)
    ckpt = checkpoint_dir_for(out)
    if not resume and ckpt.exists():
        shutil.rmtree(ckpt)
    result = fit_material(train, mesh.with_normals(), cfg, backend, checkpoint_dir=ckpt, resume=resume,
                          reporter=rep)
    metrics = None
    if evaluate_after:
        try:
            test = load_capture(capture, "test", downscale=downscale)
        except RelightError:
            test = None
        if test is not None:
            metrics = evaluate(result.asset, test, backend, reporter=rep)
    with atomic_dir(out, overwrite) as tmp:
        extra = {"capture": str(capture), "mesh": str(mesh_path)}
        if metrics is not None:
            extra["metrics"] = metrics.to_json()
            (tmp / "metrics.json").write_text(json.dumps(metrics.to_json(), indent=2) + "\n")
            (tmp / "metrics.md").write_text(metrics.to_markdown())
        save_asset(result.asset, tmp, extra)
        plot_losses(result.losses, tmp / "loss.png", f"material stage ({cfg.loss}, linear HDR)")
    shutil.rmtree(ckpt, ignore_errors=True)
    rep.log(f"wrote {out} in {result.seconds:.0f} s ({result.seconds_per_step:.3f} s/step, "
            f"primal render {result.primal_seconds:.3f} s)")
    return result, metrics


def gt_mesh_of(capture: Path):
    """The capture's ground-truth mesh (``gt/mesh.obj`` written by ``relight synth``), or None."""
    p = Path(capture) / "gt" / "mesh.obj"
    return load_mesh(p) if p.is_file() else None


def run_eval(asset_dir: Path, capture: Path, backend: Backend, *, out: Path | None = None, spp: int = EVAL_SPP,
             reporter: Reporter | None = None) -> EvalResult:
    """``relight eval``: metrics of an asset against a capture's test split (JSON + Markdown)."""
    asset = load_asset(asset_dir)
    test = load_capture(capture, "test")
    res = evaluate(asset, test, backend, spp=spp, reporter=reporter, gt_mesh=gt_mesh_of(capture))
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out.with_suffix(".json"), json.dumps(res.to_json(), indent=2) + "\n")
        write_text_atomic(out.with_suffix(".md"), res.to_markdown())
    return res
