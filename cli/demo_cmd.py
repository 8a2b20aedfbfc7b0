"""``relight report`` and ``relight demo``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option


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
    """One self-contained HTML page about ASSET: pictures, textures, envmap, relit renders, losses, metrics."""
    from relight.backend import select_backend
    from relight.progress import Reporter, RichReporter
    from relight.report import run_report

    click.echo(str(run_report(asset, out, select_backend(device), capture=capture, views=views, spp=spp,
                              overwrite=overwrite, reporter=Reporter() if quiet else RichReporter())))


@click.command()
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("out/demo"), show_default=True)
@click.option("--quick", is_flag=True, help="Tiny settings (seconds, for smoke tests): not a meaningful result.")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@device_option
def demo(out, quick, overwrite, quiet, device):
    """synth -> fit -> render -> export -> report on the built-in 'spot' scene."""
    from relight.backend import select_backend
    from relight.demo import run_demo
    from relight.progress import Reporter, RichReporter

    res = run_demo(out, select_backend(device), quick=quick, overwrite=overwrite,
                   reporter=Reporter() if quiet else RichReporter())
    for k, v in res.items():
        click.echo(f"{k:8s} {v:.0f} s" if k == "seconds" else f"{k:8s} {v}")
