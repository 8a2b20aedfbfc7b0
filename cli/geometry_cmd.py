"""``relight geometry`` and ``relight fit``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option, max_memory_option

_common = [
    click.option("--preset", type=click.Choice(["fast", "quality"]), default=None,
                 help="Settings preset (default: fast on CPU, quality on CUDA)."),
    click.option("--resume", is_flag=True, help="Continue from the last checkpoint of this output."),
    click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists."),
    click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
    device_option,
    max_memory_option,
]


def common(f):
    for opt in reversed(_common):
        f = opt(f)
    return f


@click.command()
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--config", "config_toml", type=click.Path(path_type=Path), default=None,
              help="TOML file overriding preset fields (see relight.geometry.GeometryConfig).")
@click.option("--iterations", type=int, default=None, help="Override the number of refinement steps.")
@click.option("--downscale", type=click.IntRange(1, 64), default=1, show_default=True, help="Area-downscale the images on load.")
@click.option("--holdout-every", type=click.IntRange(0, 100000), default=0, show_default=True,
              help="For single-split captures: hold out every k-th frame as the test split.")
@common
def geometry(capture, out, config_toml, iterations, downscale, holdout_every, preset, resume, overwrite, quiet,
             device, max_memory):
    """Reconstruct a watertight mesh of CAPTURE (visual hull + differentiable rasterization).

    Writes OUT/mesh.obj, OUT/mesh_colors.ply (per-vertex colour), OUT/geometry.json (settings,
    timings and metrics on the test split) and OUT/geometry_loss.png.
    """
    from relight.backend import select_backend
    from relight.geometry import load_config
    from relight.pipeline import run_geometry
    from relight.progress import Reporter, RichReporter

    backend = select_backend(device)
    cfg = load_config(preset or ("quality" if backend.device == "cuda" else "fast"), config_toml,
                      iterations=iterations)
    _, metrics = run_geometry(capture, out, cfg, backend, resume=resume, overwrite=overwrite, downscale=downscale,
                              holdout_every=holdout_every, max_memory=max_memory, reporter=Reporter() if quiet else RichReporter())
    if metrics:
        click.echo(" ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    click.echo(str(out))


@click.command()
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output asset folder.")
@click.option("--geometry-config", type=click.Path(path_type=Path), default=None,
              help="TOML overriding relight.geometry.GeometryConfig fields.")
@click.option("--material-config", type=click.Path(path_type=Path), default=None,
              help="TOML overriding relight.material.MaterialConfig fields.")
@click.option("--geometry-iterations", type=int, default=None)
@click.option("--material-iterations", type=int, default=None)
@click.option("--no-eval", is_flag=True, help="Skip the evaluation on the capture's test split.")
@click.option("--downscale", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Area-downscale the images on load.")
@common
def fit(capture, out, geometry_config, material_config, geometry_iterations, material_iterations, no_eval, downscale,
        preset, resume, overwrite, quiet, device, max_memory):
    """Full reconstruction of CAPTURE: geometry -> UV unwrap -> albedo/roughness/envmap.

    Checkpoints go to a hidden folder beside OUT; after an interruption rerun with --resume.
    """
    from relight import geometry as g
    from relight import material as m
    from relight.backend import select_backend
    from relight.pipeline import run_fit
    from relight.progress import Reporter, RichReporter

    backend = select_backend(device)
    p = preset or ("quality" if backend.device == "cuda" else "fast")
    gcfg = g.load_config(p, geometry_config, iterations=geometry_iterations)
    mcfg = m.load_config(p, material_config, iterations=material_iterations)
    res = run_fit(capture, out, gcfg, mcfg, backend, resume=resume, overwrite=overwrite, evaluate_after=not no_eval,
                  downscale=downscale, max_memory=max_memory, reporter=Reporter() if quiet else RichReporter())
    if res.metrics is not None:
        click.echo(res.metrics.to_markdown())
    click.echo(str(out))
