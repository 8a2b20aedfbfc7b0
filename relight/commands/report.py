"""``relight report``: one self-contained HTML page (plus PNGs beside it) about an asset
(page content: :mod:`relight.export.report`)."""

from __future__ import annotations

from pathlib import Path

from relight.commands.output import Output, command_output
from relight.data.asset import load_asset
from relight.data.capture_io import load_capture
from relight.export.report import write_report
from relight.render.mitsuba import RENDER_DEPTH
from relight.runtime.backend import Backend
from relight.runtime.progress import Reporter


def run(asset_dir: Path, out: Path, backend: Backend, *, capture: Path | None = None, views: int = 3,
        spp: int = 64, overwrite: bool = False, reporter: Reporter | None = None,
        within: Output | None = None) -> Path:
    """Write the report of the asset in ``asset_dir`` (compared with ``capture``'s test views when
    given) into the folder ``out``; returns the final path of its ``index.html``."""
    rep = reporter or Reporter()
    with command_output(out, overwrite=overwrite, inputs=[asset_dir, capture], within=within) as o:
        asset = load_asset(o.locate(asset_dir))
        with o.folder() as tmp:
            test = load_capture(o.locate(capture), "test") if capture is not None else None
            write_report(tmp, asset, backend, title=f"relight report: {asset_dir}", asset_dir=o.locate(asset_dir),
                         test=test, views=views, spp=spp, reporter=rep,
                         max_depth=(test.max_depth if test is not None else None) or RENDER_DEPTH)
    rep.log(f"wrote {Path(out) / 'index.html'}")
    return Path(out) / "index.html"
