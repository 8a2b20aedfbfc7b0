"""``relight fit``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import reporter, stage_options


@click.command()
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output asset folder.")
@click.option("--geometry-config", type=click.Path(path_type=Path), default=None,
              help="TOML overriding relight.geometry.fit.GeometryConfig fields.")
@click.option("--material-config", type=click.Path(path_type=Path), default=None,
              help="TOML overriding relight.material.fit.MaterialConfig fields.")
@click.option("--geometry-iterations", type=int, default=None)
@click.option("--material-iterations", type=int, default=None)
@click.option("--no-eval", is_flag=True, help="Skip the evaluations (geometry and asset) on the capture's test split.")
@click.option("--downscale", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Area-downscale the images on load.")
@click.option("--holdout-every", type=click.IntRange(0, 100000), default=0, show_default=True,
              help="For a single-file capture (nerfstudio, relight poses): hold out every k-th view for evaluation.")
@stage_options
def fit(capture, out, geometry_config, material_config, geometry_iterations, material_iterations, no_eval, downscale,
        holdout_every, preset, resume, overwrite, quiet, device, max_memory):
    """Full reconstruction of CAPTURE: geometry -> UV unwrap -> albedo/roughness/envmap.

    Checkpoints go to a hidden folder beside OUT; after an interruption rerun with --resume.

    \b
    Example:
      relight fit out/demo/capture -o out/spot_fit --preset fast
    """
    # imported when the command runs: torch and Mitsuba take seconds to load, --help should not wait
    from relight.commands import fit as command
    from relight.commands.common import preset_for
    from relight.geometry.config import load_config as geometry_load
    from relight.material.config import load_config as material_load
    from relight.runtime.backend import select_backend

    backend = select_backend(device)
    p = preset_for(backend, preset)
    gcfg = geometry_load(p, geometry_config, iterations=geometry_iterations)
    mcfg = material_load(p, material_config, iterations=material_iterations)
    res = command.run(capture, out, gcfg, mcfg, backend, resume=resume, overwrite=overwrite, evaluate_after=not no_eval,
                      downscale=downscale, holdout_every=holdout_every, max_memory=max_memory, reporter=reporter(quiet),
                      configs=[geometry_config, material_config])
    if res.metrics is not None:
        click.echo(res.metrics.to_markdown())
    click.echo(str(out))
