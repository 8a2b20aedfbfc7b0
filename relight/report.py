"""``relight report``: one self-contained HTML page (plus PNGs beside it) about an asset.

Shows, when a capture with ground truth is given: GT | reconstruction | error for a few test
views, the same under each relit envmap, and the metrics table; always: albedo and roughness
textures, the envmap (tone-mapped), relit renders under the built-in envmaps, the loss curves.
Images are PNG files in the report folder referenced by relative paths, so the folder can be
zipped or served as it is.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import numpy as np

from relight.asset import load_asset
from relight.backend import Backend
from relight.io.images import linear_to_srgb, read_envmap, write_png
from relight.io.paths import atomic_dir, check_output_dir
from relight.progress import Reporter
from relight.render import build_scene, render_views

BUILTIN_ENVMAPS = Path(__file__).resolve().parent.parent / "scenes" / "envmaps"


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


def run_report(asset_dir: Path, out: Path, backend: Backend, *, capture: Path | None = None, views: int = 3,
               spp: int = 64, overwrite: bool = False, reporter: Reporter | None = None) -> Path:
    """Write ``out/index.html`` and its PNGs; returns the HTML path."""
    rep = reporter or Reporter()
    check_output_dir(out, overwrite)
    asset = load_asset(asset_dir)
    sections: list[str] = []
    with atomic_dir(out, overwrite) as tmp:
        metrics = _metrics_table(asset_dir)
        if metrics:
            sections.append(f"<h2>Metrics</h2>{metrics}")
        if capture is not None:
            sections.append(_capture_section(asset, capture, backend, tmp, views, spp, rep))
        write_png(tmp / "albedo.png", _srgb(asset.albedo))
        write_png(tmp / "roughness.png", asset.roughness)
        env = asset.envmap / max(float(np.percentile(asset.envmap, 99)), 1e-6)
        write_png(tmp / "envmap.png", _srgb(env))
        sections.append("<h2>Textures and light</h2><div class=row>"
                        + _fig("albedo.png", "albedo (sRGB)") + _fig("roughness.png", "roughness")
                        + _fig("envmap.png", "envmap (tone-mapped: 99th percentile = white)") + "</div>")
        sections.append(_relit_section(asset, backend, tmp, spp, rep))
        for name in ("geometry_loss.png", "loss.png"):
            if (Path(asset_dir) / name).is_file():
                shutil.copy(Path(asset_dir) / name, tmp / name)
        losses = [n for n in ("geometry_loss.png", "loss.png") if (tmp / n).is_file()]
        if losses:
            sections.append("<h2>Loss curves</h2><div class=row>" + "".join(_fig(n, n[:-4]) for n in losses) + "</div>")
        title = f"relight report: {html.escape(str(asset_dir))}"
        (tmp / "index.html").write_text(_PAGE.format(title=title, body="\n".join(sections)))
    rep.log(f"wrote {out / 'index.html'}")
    return out / "index.html"


def _fig(src: str, caption: str) -> str:
    return f'<figure><img src="{html.escape(src)}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _metrics_table(asset_dir: Path) -> str:
    p = Path(asset_dir) / "metrics.json"
    if not p.is_file():
        return ""
    m = json.loads(p.read_text())
    rows = []
    for k, v in m.items():
        if isinstance(v, dict):
            rows += [(f"{k} {kk}", vv) for kk, vv in v.items()]
        elif isinstance(v, (int, float)) and v is not None:
            rows.append((k, v))
    return "<table>" + "".join(f"<tr><td>{html.escape(str(a))}</td><td>{b:.4g}</td></tr>"
                               for a, b in rows if isinstance(b, (int, float))) + "</table>"


def _capture_section(asset, capture, backend, tmp, views, spp, rep) -> str:
    from relight.io.capture_io import load_capture

    test = load_capture(capture, "test")
    idx = np.linspace(0, len(test) - 1, min(views, len(test))).round().astype(int)
    cams = [test.cameras[i] for i in idx]
    parts = ["<h2>Test views: ground truth | reconstruction | error (×4)</h2>"]
    with rep.task("report: test views", len(cams)) as adv:
        pred = render_views(backend, build_scene(backend, asset, 8), cams, spp, on_view=lambda i, _: adv())
    for j, i in enumerate(idx):
        write_png(tmp / f"view_{j}.png", _strip([_srgb(test.images[i]), _srgb(pred[j, ..., :3]),
                                                 _error(pred[j, ..., :3], test.images[i])]))
        parts.append(_fig(f"view_{j}.png", f"test view {test.names[i]}"))
    for name, rv in test.relit.items():
        sc = build_scene(backend, asset.with_envmap(read_envmap(rv.envmap), rv.rotation_deg), 8)
        img = render_views(backend, sc, cams[:1], spp)[0, ..., :3]
        write_png(tmp / f"relit_gt_{name}.png", _strip([_srgb(rv.images[idx[0]]), _srgb(img),
                                                        _error(img, rv.images[idx[0]])]))
        parts.append(_fig(f"relit_gt_{name}.png", f"relit under {name}: GT | ours | error"))
    return "".join(parts)


def _relit_section(asset, backend, tmp, spp, rep) -> str:
    from relight.relighting import ring_cameras

    cam = ring_cameras(asset, 1, 192)[0]
    envs = sorted(BUILTIN_ENVMAPS.glob("*.exr"))[:4]
    parts = ["<h2>Relit under built-in envmaps</h2><div class=row>"]
    with rep.task("report: relit", len(envs)) as adv:
        for e in envs:
            img = render_views(backend, build_scene(backend, asset.with_envmap(read_envmap(e)), 8), [cam], spp)[0]
            write_png(tmp / f"relit_{e.stem}.png", _srgb(img[..., :3] + (1 - img[..., 3:]) * 0.18))
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
