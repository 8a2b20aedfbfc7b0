"""``relight render``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import FINITE, device_option, max_memory_option, reporter


@click.command()
@click.argument("asset", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--envmap", type=click.Path(path_type=Path), default=None,
              help="Lat-long HDR environment map (.exr/.hdr); default: the asset's own.")
@click.option("--rotate", type=FINITE, default=0.0, show_default=True, help="Rotate the envmap about +y (degrees).")
@click.option("--cameras", "cameras_from", type=click.Path(path_type=Path), default=None,
              help="Render the views of this capture (its test split if it has one) instead of an orbit.")
@click.option("--orbit", type=click.IntRange(1, 100000), default=8, show_default=True, help="Number of cameras on a ring around the object.")
@click.option("--res", type=click.IntRange(8, 16384), default=512, show_default=True, help="Image size of orbit views (pixels).")
@click.option("--spp", type=click.IntRange(1, 65536), default=256, show_default=True, help="Samples per pixel.")
@click.option("--turntable", is_flag=True, help="Also write turntable.gif: the light turning once around.")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@device_option
@max_memory_option
def render(asset, out, envmap, rotate, cameras_from, orbit, res, spp, turntable, overwrite, quiet, device, max_memory):
    """Relight ASSET: path-traced renders as linear EXR + sRGB PNG (Mitsuba).

    \b
    Example:
      relight render out/demo/asset --envmap scenes/envmaps/city.exr -o out/relit
    """
    # imported when the command runs: torch and Mitsuba take seconds to load, --help should not wait
    from relight.commands import render as command
    from relight.runtime.backend import select_backend

    command.run(asset, out, select_backend(device), envmap=envmap, rotate=rotate, cameras_from=cameras_from, orbit=orbit,
                res=res, spp=spp, turntable=turntable, overwrite=overwrite, max_memory=max_memory,
                reporter=reporter(quiet))
    click.echo(str(out))
