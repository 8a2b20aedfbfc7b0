"""``relight report``: one self-contained HTML page (plus PNGs beside it) about an asset.

Shows, when a capture with ground truth is given: GT | reconstruction | error for a few test
views, the same under each relit envmap, and the metrics table; always: albedo and roughness
textures, the envmap (tone-mapped), relit renders under the built-in envmaps, the loss curves.
Images are PNG files in the report folder referenced by relative paths, so the folder can be
zipped or served as it is.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import numpy as np

from relight.data.asset import Asset
from relight.data.camera import ring_cameras
from relight.data.capture import Capture
from relight.data.images import GREY_BACKGROUND, linear_to_srgb, read_envmap, write_png
from relight.render.mitsuba import RENDER_DEPTH, build_scene, render_views
from relight.render.scene import BUILTIN_ENVMAPS
from relight.runtime.backend import Backend
from relight.runtime.errors import RelightError
from relight.runtime.paths import is_finite_number, read_json, resolve_inside
from relight.runtime.progress import Reporter

LOSS_PLOTS = ("geometry_loss.png", "loss.png")


def _srgb(x: np.ndarray) -> np.ndarray:
    return linear_to_srgb(np.clip(x, 0, 1))


def _error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """|pred - gt| (sRGB) averaged over channels, x4, as a grey image."""
    e = np.clip(4 * np.abs(_srgb(pred) - _srgb(gt)).mean(-1, keepdims=True), 0, 1)
    return np.repeat(e, 3, -1)


def _strip(images: list[np.ndarray]) -> np.ndarray:
    h = max(i.shape[0] for i in images)
    pad = [np.pad(i, ((0, h - i.shape[0]), (0, 4), (0, 0)), constant_values=1.0) for i in images]
    return np.concatenate(pad, 1)[:, :-4]


def write_report(folder: Path, asset: Asset, backend: Backend, *, title: str, asset_dir: Path,
                 test: Capture | None = None, views: int = 3, spp: int = 64, max_depth: int = RENDER_DEPTH,
                 reporter: Reporter | None = None) -> Path:
    """Write ``folder/index.html`` and its PNGs about ``asset`` (read from ``asset_dir``, whose
    ``metrics.json`` and loss plots are shown when present); ``test`` adds GT comparisons."""
    rep = reporter or Reporter()
    sections: list[str] = []
    metrics = _metrics_table(asset_dir)
    if metrics:
        sections.append(f"<h2>Metrics</h2>{metrics}")
    if test is not None:
        sections.append(_capture_section(asset, test, backend, folder, views, spp, max_depth, rep))
    write_png(folder / "albedo.png", _srgb(asset.albedo))
    write_png(folder / "roughness.png", asset.roughness)
    env = asset.envmap / max(float(np.percentile(asset.envmap, 99)), 1e-6)
    write_png(folder / "envmap.png", _srgb(env))
    sections.append("<h2>Textures and light</h2><div class=row>"
                    + _fig("albedo.png", "albedo (sRGB)") + _fig("roughness.png", "roughness")
                    + _fig("envmap.png", "envmap (tone-mapped: 99th percentile = white)") + "</div>")
    sections.append(_relit_section(asset, backend, folder, spp, rep))
    for name in LOSS_PLOTS:
        src = Path(asset_dir) / name
        if src.is_file() or src.is_symlink():  # a link out of the asset folder is refused, not copied
            shutil.copy(resolve_inside(asset_dir, name, "loss plot", src), folder / name)
    losses = [n for n in LOSS_PLOTS if (folder / n).is_file()]
    if losses:
        sections.append("<h2>Loss curves</h2><div class=row>" + "".join(_fig(n, n[:-4]) for n in losses) + "</div>")
    (folder / "index.html").write_text(_PAGE.format(title=html.escape(title), body="\n".join(sections)))
    return folder / "index.html"


def _fig(src: str, caption: str) -> str:
    return f'<figure><img src="{html.escape(src)}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _metrics_table(asset_dir: Path) -> str:
    p = Path(asset_dir) / "metrics.json"
    if not p.is_file() and not p.is_symlink():
        return ""
    m = read_json(resolve_inside(asset_dir, "metrics.json", "metrics file", p))
    if not isinstance(m, dict):
        raise RelightError("metrics.json is not a JSON object", path=p, fix="rewrite it with relight eval, or remove it")
    rows = []
    for k, v in m.items():
        if isinstance(v, dict):
            rows += [(f"{k} {kk}", vv) for kk, vv in v.items() if is_finite_number(vv)]
        elif is_finite_number(v):
            rows.append((k, v))
    return "<table>" + "".join(f"<tr><td>{html.escape(str(a))}</td><td>{b:.4g}</td></tr>"
                               for a, b in rows if isinstance(b, (int, float))) + "</table>"


def _capture_section(asset: Asset, test: Capture, backend: Backend, tmp: Path, views: int, spp: int,
                     max_depth: int, rep: Reporter) -> str:
    idx = np.linspace(0, len(test) - 1, min(views, len(test))).round().astype(int)
    cams = [test.cameras[i] for i in idx]
    parts = ["<h2>Test views: ground truth | reconstruction | error (×4)</h2>"]
    with rep.task("report: test views", len(cams)) as adv:
        pred = render_views(backend, build_scene(backend, asset, max_depth), cams, spp, on_view=lambda i, _: adv())
    for j, i in enumerate(idx):
        write_png(tmp / f"view_{j}.png", _strip([_srgb(test.images[i]), _srgb(pred[j, ..., :3]),
                                                 _error(pred[j, ..., :3], test.images[i])]))
        parts.append(_fig(f"view_{j}.png", f"test view {test.names[i]}"))
    for name, rv in test.relit.items():
        sc = build_scene(backend, asset.with_envmap(read_envmap(rv.envmap), rv.rotation_deg), max_depth)
        img = render_views(backend, sc, cams[:1], spp)[0, ..., :3]
        write_png(tmp / f"relit_gt_{name}.png", _strip([_srgb(rv.images[idx[0]]), _srgb(img),
                                                        _error(img, rv.images[idx[0]])]))
        parts.append(_fig(f"relit_gt_{name}.png", f"relit under {name}: GT | ours | error"))
    return "".join(parts)


def _relit_section(asset: Asset, backend: Backend, tmp: Path, spp: int, rep: Reporter) -> str:
    cam = ring_cameras(asset.mesh, 1, 192)[0]
    envs = sorted(BUILTIN_ENVMAPS.glob("*.exr"))[:4]
    parts = ["<h2>Relit under built-in envmaps</h2><div class=row>"]
    with rep.task("report: relit", len(envs)) as adv:
        for e in envs:
            img = render_views(backend, build_scene(backend, asset.with_envmap(read_envmap(e)), RENDER_DEPTH), [cam], spp)[0]
            write_png(tmp / f"relit_{e.stem}.png", _srgb(img[..., :3] + (1 - img[..., 3:]) * GREY_BACKGROUND))
            parts.append(_fig(f"relit_{e.stem}.png", e.stem))
            adv()
    return "".join(parts) + "</div>"


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}}
figure{{display:inline-block;margin:0 1em 1em 0}}img{{image-rendering:pixelated;max-width:100%}}
figcaption{{font-size:90%;color:#555}}table{{border-collapse:collapse}}
td{{border:1px solid #ccc;padding:2px 8px}}.row{{display:flex;flex-wrap:wrap}}</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""
