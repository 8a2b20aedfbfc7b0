"""``relight material``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option, max_memory_option, reporter


@click.command()
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("--mesh", "mesh_path", type=click.Path(path_type=Path), required=True,
              help="Fixed mesh (OBJ/PLY/GLB); unwrapped with xatlas if it has no UVs.")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output asset folder.")
@click.option("--preset", type=click.Choice(["fast", "quality"]), default=None,
              help="Settings preset (default: fast on CPU, quality on CUDA).")
@click.option("--config", "config_toml", type=click.Path(path_type=Path), default=None,
              help="TOML file overriding preset fields (see relight.material.fit.MaterialConfig).")
@click.option("--iterations", type=int, default=None, help="Override the number of steps.")
@click.option("--seed", type=int, default=None, help="Random seed (CPU runs are deterministic).")
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint of this output.")
@click.option("--no-eval", is_flag=True, help="Skip the evaluation on the capture's test split.")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--downscale", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Area-downscale the images on load.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@device_option
@max_memory_option
def material(capture, mesh_path, out, preset, config_toml, iterations, seed, resume, no_eval, overwrite,
             downscale, quiet, device, max_memory):
    """Fit albedo/roughness textures and an HDR envmap to CAPTURE on a fixed mesh.

    Uses Mitsuba 3 path-traced gradients (prb, multi-bounce). Checkpoints go to a hidden
    folder beside OUT; after an interruption rerun the same command with --resume.

    \b
    Example:
      relight material out/spot --mesh out/spot/gt/mesh.obj -o out/spot_asset
    """
    # imported when the command runs: torch and Mitsuba take seconds to load, --help should not wait
    from relight.commands import material as command
    from relight.commands.common import preset_for
    from relight.material.config import load_config
    from relight.runtime.backend import select_backend

    backend = select_backend(device)
    cfg = load_config(preset_for(backend, preset), config_toml, iterations=iterations, seed=seed)
    command.run(capture, mesh_path, out, cfg, backend, resume=resume, overwrite=overwrite, evaluate_after=not no_eval,
                downscale=downscale, max_memory=max_memory, reporter=reporter(quiet), configs=[config_toml])
    click.echo(str(out))
