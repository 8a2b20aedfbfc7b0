"""``relight synth``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option, max_memory_option, reporter


@click.command()
@click.argument("scene")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True,
              help="Output capture folder (NeRF-synthetic layout).")
@click.option("--res", type=click.IntRange(8, 16384), default=None, help="Image width = height in pixels (scene default: 256).")
@click.option("--views", type=click.IntRange(1, 100000), default=None, help="Number of training views (default: 64).")
@click.option("--test-views", type=click.IntRange(1, 100000), default=None, help="Number of held-out test views (default: 8).")
@click.option("--spp", type=click.IntRange(1, 65536), default=None, help="Path-tracing samples per pixel (default: 64).")
@click.option("--test-spp", type=click.IntRange(1, 65536), default=None,
              help="Samples per pixel of test and relit views, the evaluation references (default: 256).")
@click.option("--photos", is_flag=True,
              help="Write the training views as a camera delivers them (OUT/photos: JPEG, visible backdrop, "
                   "exposure +-0.5 EV, lens distortion) with the capture kept aside as their truth (OUT/truth).")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@device_option
@max_memory_option
def synth(scene, out, res, views, test_views, spp, test_spp, photos, overwrite, quiet, device, max_memory):
    """Render a ground-truth capture of SCENE (a built-in name such as 'spot', or a .toml).

    Writes train/test views as RGBA PNG (sRGB) and linear EXR, GT AOVs (albedo, roughness,
    normals, mask) and relit renders of the test views under the scene's other envmaps, plus the
    GT asset in OUT/gt.

    With --photos the training views become what a camera delivers (OUT/photos/*.jpg: no alpha,
    the backdrop visible, auto-exposure, lens distortion) to test 'relight poses' against the
    truth in OUT/truth.

    \b
    Example:
      relight synth spot -o out/spot --res 256 --views 64
    """
    # imported when the command runs: torch and Mitsuba take seconds to load, --help should not wait
    from relight.commands import synth as command
    from relight.runtime.backend import select_backend

    command.run(scene, out, select_backend(device), overwrite=overwrite, max_memory=max_memory, reporter=reporter(quiet),
                photos=photos, res=res, views=views, test_views=test_views, spp=spp, test_spp=test_spp)
    click.echo(str(out))
