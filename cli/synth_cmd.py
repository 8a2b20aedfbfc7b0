"""``relight synth`` and ``relight scenes``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option


@click.command()
@click.argument("scene")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True,
              help="Output capture folder (NeRF-synthetic layout).")
@click.option("--res", type=int, default=None, help="Image width = height in pixels (scene default: 256).")
@click.option("--views", type=int, default=None, help="Number of training views (default: 64).")
@click.option("--test-views", type=int, default=None, help="Number of held-out test views (default: 8).")
@click.option("--spp", type=int, default=None, help="Path-tracing samples per pixel (default: 64).")
@click.option("--test-spp", type=int, default=None,
              help="Samples per pixel of test and relit views, the evaluation references (default: 256).")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@device_option
def synth(scene, out, res, views, test_views, spp, test_spp, overwrite, quiet, device):
    """Render a ground-truth capture of SCENE (a built-in name such as 'spot', or a .toml).

    Writes train/test views as RGBA PNG (sRGB) and linear EXR, GT AOVs (albedo, roughness,
    normals, mask) and relit renders of the test views under the scene's other envmaps, plus the
    GT asset in OUT/gt.
    """
    from relight.backend import select_backend
    from relight.progress import Reporter, RichReporter
    from relight.scene import load_scene
    from relight.synth import synthesize

    spec = load_scene(scene).with_overrides(res=res, views=views, test_views=test_views, spp=spp,
                                                  test_spp=test_spp)
    backend = select_backend(device)
    synthesize(spec, out, backend, overwrite=overwrite, reporter=Reporter() if quiet else RichReporter())
    click.echo(str(out))


@click.command()
def scenes():
    """List the built-in scenes."""
    from relight.scene import list_scenes, load_scene

    for name in list_scenes():
        click.echo(f"{name:10s} {load_scene(name).description}")
