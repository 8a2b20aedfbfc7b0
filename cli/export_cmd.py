"""``relight render`` and ``relight export``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option, max_memory_option


@click.command()
@click.argument("asset", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--envmap", type=click.Path(path_type=Path), default=None,
              help="Lat-long HDR environment map (.exr/.hdr); default: the asset's own.")
@click.option("--rotate", type=float, default=0.0, show_default=True, help="Rotate the envmap about +y (degrees).")
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
    """Relight ASSET: path-traced renders as linear EXR + sRGB PNG (Mitsuba)."""
    from relight.backend import select_backend
    from relight.errors import RelightError
    from relight.io.capture_io import load_capture
    from relight.progress import Reporter, RichReporter
    from relight.relighting import run_render

    backend = select_backend(device)
    cams = None
    if cameras_from is not None:
        try:
            cams = load_capture(cameras_from, "test", load_gt=False).cameras
        except RelightError:
            cams = load_capture(cameras_from, "train", load_gt=False).cameras
    run_render(asset, out, backend, envmap=envmap, rotate=rotate, cameras=cams, orbit=orbit, res=res, spp=spp,
               turntable=turntable, overwrite=overwrite, max_memory=max_memory,
               reporter=Reporter() if quiet else RichReporter())
    click.echo(str(out))


@click.command()
@click.argument("asset", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["glb", "obj"]), default=None,
              help="Output format (default: from the -o suffix).")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output file (.glb or .obj).")
@click.option("--overwrite", is_flag=True, help="Replace existing files.")
def export(asset, fmt, out, overwrite):
    """Export ASSET as glTF 2.0 binary (PBR metallic-roughness) or OBJ + MTL; envmap as EXR beside it."""
    from relight.asset import load_asset
    from relight.export import export_asset

    for p in export_asset(load_asset(asset), out, fmt, overwrite):
        click.echo(str(p))
