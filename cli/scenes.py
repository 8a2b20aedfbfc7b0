"""``relight scenes``."""

from __future__ import annotations

import click


@click.command()
def scenes():
    """List the built-in scenes.

    \b
    Example:
      relight scenes
    """
    from relight.commands import scenes as command

    for name, description in command.run():
        click.echo(f"{name:10s} {description}")
