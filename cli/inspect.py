"""``relight inspect``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option


@click.command("inspect")
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("--split", default="train", show_default=True, help="train, val or test.")
@click.option("--downscale", type=click.IntRange(1, 64), default=1, show_default=True, help="Integer downscale on load.")
@click.option("--holdout-every", type=click.IntRange(0, 100000), default=0, show_default=True,
              help="For single-file captures: every k-th frame is 'test', the rest 'train'.")
@device_option
def inspect_capture(capture, split, downscale, holdout_every, device):
    """Read CAPTURE (NeRF-synthetic or nerfstudio folder, or its transforms JSON) and print a summary.

    \b
    Example:
      relight inspect out/demo/capture --split test
    """
    # imported when the command runs: torch and Mitsuba take seconds to load, --help should not wait
    from relight.commands import inspect as command
    from relight.runtime.backend import select_backend

    for line in command.run(capture, split, downscale, holdout_every):
        click.echo(line)
    click.echo(f"backend for fitting: {select_backend(device).describe()}")
