"""``relight report``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option, reporter


@click.command()
@click.argument("asset", type=click.Path(path_type=Path))
@click.option("--capture", type=click.Path(path_type=Path), default=None,
              help="Capture with a test split: adds GT | ours | error pictures (and relit GT if present).")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output folder (index.html + PNGs).")
@click.option("--views", type=click.IntRange(1, 100000), default=3, show_default=True, help="Test views to show.")
@click.option("--spp", type=click.IntRange(1, 65536), default=64, show_default=True, help="Samples per pixel of the report's renders.")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@device_option
def report(asset, capture, out, views, spp, overwrite, quiet, device):
    """One self-contained HTML page about ASSET: pictures, textures, envmap, relit renders, losses, metrics.

    \b
    Example:
      relight report out/demo/asset --capture out/demo/capture -o out/spot_report
    """
    # imported when the command runs: torch and Mitsuba take seconds to load, --help should not wait
    from relight.commands import report as command
    from relight.runtime.backend import select_backend

    click.echo(str(command.run(asset, out, select_backend(device), capture=capture, views=views, spp=spp,
                               overwrite=overwrite, reporter=reporter(quiet))))
