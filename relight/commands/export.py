"""``relight export``: an asset folder to glTF 2.0 binary or OBJ + MTL (+ its envmap as EXR)
(formats: :mod:`relight.export.formats`)."""

from __future__ import annotations

from pathlib import Path

from relight.commands.output import Output, locate
from relight.data.asset import load_asset
from relight.export.formats import export_asset
from relight.runtime.paths import check_disjoint, check_output_name


def run(asset_dir: Path, out: Path, fmt: str | None = None, overwrite: bool = False,
        within: Output | None = None) -> list[Path]:
    """Export the asset in ``asset_dir`` to the file ``out`` (format from ``fmt`` or its suffix);
    returns the final paths of the files written."""
    source, target = locate(within, asset_dir), locate(within, out)
    check_output_name(target)
    check_disjoint(target, [source])  # its siblings (envmap, textures) go beside it
    written = export_asset(load_asset(source), target, fmt, overwrite)
    return [Path(out).parent / p.name for p in written]
