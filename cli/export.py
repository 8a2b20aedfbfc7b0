"""``relight export``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("asset", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["glb", "obj"]), default=None,
              help="Output format (default: from the -o suffix).")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output file (.glb or .obj).")
@click.option("--overwrite", is_flag=True, help="Replace existing files.")
def export(asset, fmt, out, overwrite):
    """Export ASSET as glTF 2.0 binary (PBR metallic-roughness) or OBJ + MTL; envmap as EXR beside it.

    \b
    Example:
      relight export out/demo/asset -o out/spot.glb
    """
    from relight.commands import export as command

    for p in command.run(asset, out, fmt, overwrite):
        click.echo(str(p))
