"""``relight demo``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option, reporter


@click.command()
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("out/demo"), show_default=True)
@click.option("--quick", is_flag=True, help="Tiny settings (seconds, for smoke tests): not a meaningful result.")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@device_option
def demo(out, quick, overwrite, quiet, device):
    """synth -> fit -> render -> export -> report on the built-in 'spot' scene.

    \b
    Example:
      relight demo -o out/demo
    """
    # imported when the command runs: torch and Mitsuba take seconds to load, --help should not wait
    from relight.commands import demo as command
    from relight.runtime.backend import select_backend

    res = command.run(out, select_backend(device), quick=quick, overwrite=overwrite, reporter=reporter(quiet))
    for k, v in res.items():
        click.echo(f"{k:8s} {v:.0f} s" if k == "seconds" else f"{k:8s} {v}")
