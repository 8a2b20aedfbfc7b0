"""``relight geometry``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import reporter, stage_options


@click.command()
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--config", "config_toml", type=click.Path(path_type=Path), default=None,
              help="TOML file overriding preset fields (see relight.geometry.fit.GeometryConfig).")
@click.option("--iterations", type=int, default=None, help="Override the number of refinement steps.")
@click.option("--downscale", type=click.IntRange(1, 64), default=1, show_default=True, help="Area-downscale the images on load.")
@click.option("--holdout-every", type=click.IntRange(0, 100000), default=0, show_default=True,
              help="For single-split captures: hold out every k-th frame as the test split.")
@stage_options
def geometry(capture, out, config_toml, iterations, downscale, holdout_every, preset, resume, overwrite, quiet,
             device, max_memory):
    """Reconstruct a watertight mesh of CAPTURE (visual hull + differentiable rasterization).

    Writes OUT/mesh.obj, OUT/mesh_colors.ply (per-vertex colour), OUT/geometry.json (settings,
    timings, metrics on the test split and, for 8-bit photos, each view's fitted exposure factor)
    and OUT/geometry_loss.png.

    \b
    Example:
      relight geometry out/demo/capture -o out/spot_geo --preset fast
    """
    # imported when the command runs: torch and Mitsuba take seconds to load, --help should not wait
    from relight.commands import geometry as command
    from relight.commands.common import preset_for
    from relight.geometry.config import load_config
    from relight.runtime.backend import select_backend

    backend = select_backend(device)
    cfg = load_config(preset_for(backend, preset), config_toml, iterations=iterations)
    _, metrics = command.run(capture, out, cfg, backend, resume=resume, overwrite=overwrite, downscale=downscale,
                             holdout_every=holdout_every, max_memory=max_memory, reporter=reporter(quiet),
                             configs=[config_toml])
    if metrics:
        click.echo(" ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    click.echo(str(out))
