"""The interactive viewer: a folder (a "site") holding the asset as GLB, its envmap and the
built-in ones as EXR, three.js and ``viewer.js``, served on 127.0.0.1 by ``relight view`` or
shown at the top of a ``relight report`` page.

Fully offline: three.js is copied from ``tools/web/node_modules/three`` (pinned in
``tools/web/package.json``, installed by ``scripts/bootstrap.sh``) into ``three/`` beside the
page, with an import map instead of a CDN. Browsers refuse ES modules and ``fetch`` on
``file://`` pages, so the viewer needs a local HTTP server: ``relight view`` is one; the page
says so when opened as a file.
"""

from __future__ import annotations

import functools
import http.server
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from relight.data.asset import Asset
from relight.data.camera import ring_cameras
from relight.export.formats import export_asset
from relight.render.scene import BUILTIN_ENVMAPS
from relight.runtime.errors import RelightError
from relight.runtime.paths import write_json

ROOT = Path(__file__).resolve().parents[2]
WEB = Path(__file__).resolve().parent / "web"
THREE_FILES = ("LICENSE", "build/three.module.js", "build/three.core.js",
               "examples/jsm/loaders/GLTFLoader.js", "examples/jsm/loaders/EXRLoader.js",
               "examples/jsm/controls/OrbitControls.js", "examples/jsm/utils/BufferGeometryUtils.js",
               "examples/jsm/utils/SkeletonUtils.js", "examples/jsm/libs/fflate.module.js")
"""The part of three.js the viewer imports (about 2.5 MB)."""

IMPORT_MAP = ('<script type="importmap">{"imports": {"three": "./three/build/three.module.js", '
              '"three/addons/": "./three/examples/jsm/"}}</script>')
FILE_NOTE = ("<p class=note id=viewer-file-note hidden>The interactive viewer needs a local web server "
             "(browsers do not run modules from <code>file://</code>): run <code>relight view DIR</code> on "
             "this folder, or <code>python -m http.server</code> in it.</p>"
             "<script>if (location.protocol === 'file:') "
             "document.getElementById('viewer-file-note').hidden = false;</script>")


def three_dir() -> Path | None:
    """Where three.js is installed (``$RELIGHT_THREE_DIR`` or ``tools/web/node_modules/three``)."""
    d = Path(os.environ.get("RELIGHT_THREE_DIR") or ROOT / "tools/web/node_modules/three")
    return d if all((d / f).is_file() for f in THREE_FILES) else None


def require_three() -> Path:
    d = three_dir()
    if d is None:
        raise RelightError("three.js is not installed for the viewer", path=ROOT / "tools/web",
                           fix="run ./run.sh test once, or (cd tools/web && npm ci)")
    return d


def write_site(site: Path, asset: Asset, *, builtin: int = 4) -> dict:
    """Write the viewer's files into ``site`` (existing folder): ``asset.glb``,
    ``asset_envmap.exr``, ``envmaps/*.exr`` (``builtin`` of the built-in ones), ``three/``,
    ``viewer.js`` and ``viewer.json``; returns the viewer config. Raises when three.js is missing."""
    three = require_three()
    export_asset(asset, site / "asset.glb")
    (site / "envmaps").mkdir(exist_ok=True)
    envmaps = [{"name": "fitted", "file": "asset_envmap.exr"}]
    for e in sorted(BUILTIN_ENVMAPS.glob("*.exr"))[:builtin]:
        shutil.copyfile(e, site / "envmaps" / e.name)
        envmaps.append({"name": e.stem, "file": f"envmaps/{e.name}"})
    for f in THREE_FILES:
        (site / "three" / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(three / f, site / "three" / f)
    shutil.copyfile(WEB / "viewer.js", site / "viewer.js")
    cam = ring_cameras(asset.mesh, 1, 256)[0]
    lo, hi = asset.mesh.bounds()
    cfg = {"glb": "asset.glb", "envmaps": envmaps,
           "camera": {"position": cam.c2w[:3, 3].tolist(), "target": ((lo + hi) / 2).tolist(),
                      "fov_y_deg": math.degrees(cam.fov_y)}}
    write_json(site / "viewer.json", cfg)
    return cfg


def viewer_block() -> str:
    """HTML of the viewer: its canvas, its controls and the scripts (for any page of the site)."""
    return (f'{IMPORT_MAP}<div id=viewer></div><div id=viewer-controls></div>{FILE_NOTE}'
            '<script type="module" src="viewer.js"></script>')


def write_viewer_page(site: Path, title: str) -> Path:
    """A page holding only the viewer (``viewer.html``), filling the window."""
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title><style>"
            "body{margin:0;font-family:system-ui,sans-serif;background:#111;color:#eee}"
            "#viewer{width:100vw;height:calc(100vh - 3em)}#viewer-controls{display:flex;gap:1.5em;"
            "padding:.6em 1em}.note{padding:1em}code{color:#fc6}</style></head>"
            f"<body>{viewer_block()}</body></html>\n")
    (site / "viewer.html").write_text(page)
    return site / "viewer.html"


def camera_query(c2w: np.ndarray, fov_y_deg: float, width: int, height: int) -> str:
    """URL parameters putting the viewer's camera at relight camera ``c2w`` (OpenGL axes)."""
    return (f"cam={','.join(f'{x:.9g}' for x in np.asarray(c2w, float).ravel())}"
            f"&fovy={fov_y_deg:.9g}&w={width}&h={height}")


def serve(site: Path, port: int = 0, on_start: Callable[[str], None] | None = None) -> None:
    """Serve ``site`` read-only on 127.0.0.1 until interrupted; ``on_start`` gets the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        if on_start:
            on_start(f"http://127.0.0.1:{httpd.server_address[1]}/")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

    def log_message(self, *args) -> None:  # the terminal shows the URL, not one line per file
        pass
