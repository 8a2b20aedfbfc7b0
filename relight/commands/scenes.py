"""``relight scenes``: the built-in scenes ``relight synth`` renders, with their descriptions."""

from __future__ import annotations

from relight.render.scene import list_scenes, load_scene


def run() -> list[tuple[str, str]]:
    """(name, description) of every built-in scene."""
    return [(name, load_scene(name).description) for name in list_scenes()]
