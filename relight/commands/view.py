"""``relight view``: the interactive three.js viewer of an asset (or of a report folder), served
on 127.0.0.1 until Ctrl-C (page: :mod:`relight.export.viewer`). Nothing is written into the
asset: the viewer's files go to a temporary folder, removed on exit, or to ``--out``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from relight.data.asset import load_asset
from relight.export.viewer import require_three, serve, write_site, write_viewer_page
from relight.runtime.errors import RelightError
from relight.runtime.paths import check_disjoint, check_output_dir


def run(target: Path, port: int = 0, out: Path | None = None, overwrite: bool = False,
        on_url: Callable[[str], None] = print) -> Path:
    """Serve the viewer of ``target`` (an asset folder, or a report folder holding
    ``viewer.json``); ``on_url`` gets the page's URL. Returns the folder served."""
    target = Path(target)
    if (target / "viewer.json").is_file() and (target / "index.html").is_file():
        serve(target, port, lambda base: on_url(f"{base}index.html"))
        return target
    if not (target / "asset.json").is_file():
        raise RelightError("not an asset folder (no asset.json) nor a report folder (no viewer.json)",
                           path=target, fix="pass a folder written by relight fit/material or relight report")
    asset = load_asset(target)
    require_three()
    if out is not None:
        out = Path(out)
        check_disjoint(out, [target], "--out")
        check_output_dir(out, overwrite)
        out.mkdir(parents=True, exist_ok=True)
        _write(out, asset, target)
        serve(out, port, lambda base: on_url(f"{base}viewer.html"))
        return out
    with tempfile.TemporaryDirectory(prefix="relight-view-") as tmp:
        _write(Path(tmp), asset, target)
        serve(Path(tmp), port, lambda base: on_url(f"{base}viewer.html"))
    return target


def _write(site: Path, asset, target: Path) -> None:
    write_site(site, asset)
    write_viewer_page(site, f"relight view: {target.resolve().name}")
