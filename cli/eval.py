"""``relight eval``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option, reporter
from relight.evaluation import EVAL_SPP


@click.command("eval")
@click.argument("asset", type=click.Path(path_type=Path))
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None,
              help="Write OUT.json and OUT.md (default: print the table only).")
@click.option("--spp", type=click.IntRange(1, 65536), default=EVAL_SPP, show_default=True, help="Samples per pixel of evaluation renders.")
@click.option("--holdout-every", type=click.IntRange(0, 100000), default=0, show_default=True,
              help="For a single-file capture: evaluate on every k-th view (as the fit held them out).")
@click.option("--downscale", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Area-downscale the test views on load.")
@click.option("--noise-free", is_flag=True,
              help="Also score relighting without the Monte Carlo noise of both renders (a capture made by "
                   "`relight synth`: its GT scene is rendered twice more; about 4x the relighting's time).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@device_option
def evaluate_cmd(asset, capture, out, spp, holdout_every, downscale, noise_free, quiet, device):
    """Compare ASSET with the ground truth of CAPTURE's test split.

    Albedo PSNR/SSIM (per-channel scale-aligned), roughness MAE, relighting PSNR/SSIM under the
    capture's relit envmaps, novel-view PSNR/SSIM and mask IoU (protocol: relight/evaluation/evaluate.py).

    \b
    Example:
      relight eval out/demo/asset out/demo/capture -o out/demo_eval
    """
    # imported when the command runs: torch and Mitsuba take seconds to load, --help should not wait
    from relight.commands import eval as command
    from relight.runtime.backend import select_backend

    res = command.run(asset, capture, select_backend(device), out=out, spp=spp, holdout_every=holdout_every,
                      downscale=downscale, noise_free=noise_free, reporter=reporter(quiet))
    click.echo(res.to_markdown())
