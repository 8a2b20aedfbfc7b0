"""``relight view``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("target", metavar="ASSET", type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None,
              help="Keep the viewer's files in this folder (default: a temporary one, removed on exit).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def view(target, port, out, overwrite):
    """Serve ASSET (an asset folder, or a report folder) in an interactive three.js viewer on
    127.0.0.1 and print its URL: orbit, zoom, switch and turn the light, show albedo /
    roughness / normals. Offline (three.js from tools/web); Ctrl-C stops it.

    \b
    Example:
      relight view out/demo/asset --port 8765
    """
    from relight.commands import view as command

    command.run(target, port, out, overwrite, on_url=lambda u: click.echo(f"viewer: {u}  (Ctrl-C to stop)"))
