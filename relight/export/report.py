"""``relight report``: one HTML page (plus PNGs and the viewer's files beside it) about an asset.

Top to bottom: a summary card (object, time, the key metrics in words with units, published
anchors beside them); the interactive three.js viewer (:mod:`relight.export.viewer`) when
three.js is installed; when a capture with ground truth is given, ground truth | ours | error
strips for a few test views and under each relit envmap, the error on a stated colour scale;
the loss curves; the textures and the light; renders under the built-in envmaps; all metrics.
Everything is referenced by relative paths, so the folder can be zipped or served as it is.
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
from relight.export.viewer import three_dir, viewer_block, write_site
from relight.render.mitsuba import RENDER_DEPTH, build_scene, render_views
from relight.render.scene import BUILTIN_ENVMAPS
from relight.runtime.backend import Backend
from relight.runtime.errors import RelightError
from relight.runtime.paths import is_finite_number, read_json, resolve_inside
from relight.runtime.progress import Reporter

LOSS_PLOTS = {"geometry_loss.png": "geometry stage (silhouette + image loss)",
              "loss.png": "material stage (path-traced image loss)"}
ERROR_MAX = 0.2
"""Error strips: |ours - GT| in sRGB, channel mean; this value and above are the brightest colour."""

METRICS = {  # metrics.json key: (words, unit, decimals)
    "albedo_psnr": ("Albedo accuracy, PSNR (scale-aligned)", "dB", 2),
    "relight_psnr_mean": ("Relighting under new light, PSNR (mean over envmaps)", "dB", 2),
    "novel_view_psnr": ("New viewpoints under the fitted light, PSNR", "dB", 2),
    "normal_mae": ("Surface normal error, mean angle", "°", 2),
    "roughness_mae": ("Roughness error, mean absolute", "", 3),
    "metallic_mae": ("Metalness error, mean absolute", "", 3),
    "mask_iou": ("Silhouette overlap (IoU)", "", 3),
    "chamfer": ("Shape distance, Chamfer (fraction of the GT box diagonal)", "", 4),
    "albedo_ssim": ("Albedo structure, SSIM", "", 3),
    "relight_ssim_mean": ("Relighting structure, SSIM (mean)", "", 3),
    "novel_view_ssim": ("New viewpoints structure, SSIM", "", 3),
}
KEY_METRICS = ("albedo_psnr", "relight_psnr_mean", "normal_mae")
ANCHORS = {  # published TensoIR-synthetic averages (GPU methods, other scenes): context, not a ranking
    "albedo_psnr": "IRGS 33.8 · Flash Cache 30.3 · GeoSplatting 29.4 · TensoIR 29.3 · nvdiffrecmc 27.7",
    "relight_psnr_mean": "GHPT 32.5 · GeoSplatting 30.0 · IRGS 29.9 · Flash Cache 29.7 · TensoIR 28.6 · nvdiffrecmc 26.5",
    "normal_mae": "Flash Cache 3.36° · GeoSplatting 4.08° · TensoIR 4.10° · IRGS 4.11° · nvdiffrecmc 4.81°",
}


def _srgb(x: np.ndarray) -> np.ndarray:
    return linear_to_srgb(np.clip(x, 0, 1))


def error_image(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """|pred - gt| (sRGB, channel mean) through the ``magma`` colour map, 0 .. :data:`ERROR_MAX`."""
    from matplotlib import colormaps

    e = np.clip(np.abs(_srgb(pred) - _srgb(gt)).mean(-1) / ERROR_MAX, 0, 1)
    return colormaps["magma"](e)[..., :3].astype(np.float32)


def _error_scale(path: Path) -> None:
    """The colour bar of :func:`error_image`, labelled in sRGB error units."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 0.8), dpi=100)
    ax.imshow(np.linspace(0, 1, 256)[None], cmap="magma", aspect="auto", extent=(0, ERROR_MAX, 0, 1))
    ax.set_yticks([])
    ax.set_xlabel("|ours − ground truth| (sRGB, 0–1)", fontsize=8)
    ax.tick_params(labelsize=8)
    fig.subplots_adjust(left=0.04, right=0.96, bottom=0.55, top=0.95)
    fig.savefig(path)
    plt.close(fig)


def _strip(images: list[np.ndarray]) -> np.ndarray:
    h = max(i.shape[0] for i in images)
    pad = [np.pad(i, ((0, h - i.shape[0]), (0, 4), (0, 0)), constant_values=1.0) for i in images]
    return np.concatenate(pad, 1)[:, :-4]


def write_report(folder: Path, asset: Asset, backend: Backend, *, title: str, asset_dir: Path,
                 test: Capture | None = None, views: int = 3, spp: int = 64, max_depth: int = RENDER_DEPTH,
                 reporter: Reporter | None = None) -> Path:
    """Write ``folder/index.html`` and its files about ``asset`` (read from ``asset_dir``, whose
    ``metrics.json`` and loss plots are shown when present); ``test`` adds GT comparisons."""
    rep = reporter or Reporter()
    metrics = _read_metrics(asset_dir)
    sections = [_summary(asset, asset_dir, metrics)]
    if three_dir() is not None:
        write_site(folder, asset)
        sections.append("<h2>Look around</h2><p>Drag to orbit, scroll to zoom; change the light, turn it, "
                        "or show the albedo, roughness or normals alone.</p>" + viewer_block())
    else:
        sections.append("<p class=note>The interactive viewer is left out: three.js is not installed "
                        "(run <code>./run.sh test</code> once, or <code>cd tools/web && npm ci</code>).</p>")
    if test is not None:
        _error_scale(folder / "error_scale.png")
        sections.append(_capture_section(asset, test, backend, folder, views, spp, max_depth, metrics, rep))
    for name in LOSS_PLOTS:
        src = Path(asset_dir) / name
        if src.is_file() or src.is_symlink():  # a link out of the asset folder is refused, not copied
            shutil.copy(resolve_inside(asset_dir, name, "loss plot", src), folder / name)
    losses = [n for n in LOSS_PLOTS if (folder / n).is_file()]
    if losses:
        sections.append("<h2>How the fit converged</h2><div class=row>"
                        + "".join(_fig(n, LOSS_PLOTS[n]) for n in losses) + "</div>")
    write_png(folder / "albedo.png", _srgb(asset.albedo))
    write_png(folder / "roughness.png", asset.roughness)
    env = asset.envmap / max(float(np.percentile(asset.envmap, 99)), 1e-6)
    write_png(folder / "envmap.png", _srgb(env))
    sections.append("<h2>Textures and light</h2><div class=row>"
                    + _fig("albedo.png", "albedo (base colour, sRGB)") + _fig("roughness.png", "roughness (0 = mirror, 1 = matte)")
                    + _fig("envmap.png", "fitted light, equirect (99th percentile shown as white)", 512) + "</div>")
    sections.append(_relit_section(asset, backend, folder, spp, rep))
    if metrics:
        sections.append("<h2>All metrics</h2>" + _metrics_table(metrics))
    (folder / "index.html").write_text(_PAGE.format(title=html.escape(title), body="\n".join(sections)))
    return folder / "index.html"


def _fig(src: str, caption: str, width: int | None = None) -> str:
    size = f' style="width:{width}px"' if width else ""
    return f'<figure><img src="{html.escape(src)}"{size}><figcaption>{html.escape(caption)}</figcaption></figure>'


def _read_metrics(asset_dir: Path) -> dict:
    p = Path(asset_dir) / "metrics.json"
    if not p.is_file() and not p.is_symlink():
        return {}
    m = read_json(resolve_inside(asset_dir, "metrics.json", "metrics file", p))
    if not isinstance(m, dict):
        raise RelightError("metrics.json is not a JSON object", path=p, fix="rewrite it with relight eval, or remove it")
    return m


def _fmt(key: str, v) -> str:
    words, unit, dec = METRICS.get(key, (key, "", 3))
    return f"{v:.{dec}f}" + (f" {unit}" if unit and unit != "°" else unit)


def _summary(asset: Asset, asset_dir: Path, metrics: dict) -> str:
    info = asset.info
    secs = [info.get("seconds"), (info.get("geometry") or {}).get("seconds"), info.get("unwrap_seconds")]
    total = sum(s for s in secs if is_finite_number(s))
    facts = [("object", Path(asset_dir).resolve().name), ("capture", info.get("capture", "—")),
             ("mesh", f"{len(asset.mesh.faces):,} triangles"),
             ("textures", f"{asset.albedo.shape[1]}×{asset.albedo.shape[0]}"
                          + (", metallic" if asset.metallic is not None else "")),
             ("light", f"{asset.envmap.shape[1]}×{asset.envmap.shape[0]} HDR envmap"),
             ("time", f"{total / 60:.1f} min" if total else "—")]
    cards = "".join(f"<div class=kv><span>{html.escape(k)}</span><b>{html.escape(str(v))}</b></div>" for k, v in facts)
    big = ""
    for key in KEY_METRICS:
        v = metrics.get(key)
        if is_finite_number(v):
            big += (f"<div class=metric><div class=value>{_fmt(key, v)}</div><div>{html.escape(METRICS[key][0])}</div>"
                    f"<div class=anchor>published: {html.escape(ANCHORS[key])}</div></div>")
    note = ("<p class=small>Published figures are TensoIR-synthetic averages of GPU methods on other scenes: "
            "context, not a like-for-like comparison.</p>") if big else ""
    return f"<section class=card><div class=facts>{cards}</div><div class=metrics>{big}</div>{note}</section>"


def _metrics_table(m: dict) -> str:
    rows = [(METRICS[k][0], _fmt(k, m[k])) for k in METRICS if is_finite_number(m.get(k))]
    for group, words in (("relight_psnr", "Relighting PSNR under {}"), ("relight_ssim", "Relighting SSIM under {}")):
        if isinstance(m.get(group), dict):
            rows += [(words.format(k), f"{v:.2f} dB" if "psnr" in group else f"{v:.3f}")
                     for k, v in m[group].items() if is_finite_number(v)]
    return "<table>" + "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>" for a, b in rows) + "</table>"


def _capture_section(asset: Asset, test: Capture, backend: Backend, tmp: Path, views: int, spp: int,
                     max_depth: int, metrics: dict, rep: Reporter) -> str:
    idx = np.linspace(0, len(test) - 1, min(views, len(test))).round().astype(int)
    cams = [test.cameras[i] for i in idx]
    parts = ["<h2>Ground truth | ours | error</h2><p>Test views the fit never saw; the error is on this scale:</p>",
             '<img class=scale src="error_scale.png">']
    with rep.task("report: test views", len(cams)) as adv:
        turns = test.subset(idx).light_deg(asset.envmap_rotation_deg)  # a turntable's light per view
        pred = render_views(backend, build_scene(backend, asset, max_depth), cams, spp, on_view=lambda i, _: adv(),
                            light_deg=turns)
    for j, i in enumerate(idx):
        write_png(tmp / f"view_{j}.png", _strip([_srgb(test.images[i]), _srgb(pred[j, ..., :3]),
                                                 error_image(pred[j, ..., :3], test.images[i])]))
        parts.append(_fig(f"view_{j}.png", f"test view {test.names[i]}, its own light"))
    per_env = metrics.get("relight_psnr") if isinstance(metrics.get("relight_psnr"), dict) else {}
    for name, rv in test.relit.items():
        sc = build_scene(backend, asset.with_envmap(read_envmap(rv.envmap), rv.rotation_deg), max_depth)
        img = render_views(backend, sc, cams[:1], spp)[0, ..., :3]
        write_png(tmp / f"relit_gt_{name}.png", _strip([_srgb(rv.images[idx[0]]), _srgb(img),
                                                        error_image(img, rv.images[idx[0]])]))
        score = f" — {per_env[name]:.2f} dB over all test views" if is_finite_number(per_env.get(name)) else ""
        parts.append(_fig(f"relit_gt_{name}.png", f"relit under {name}{score}"))
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
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}}
h1{{font-weight:600}}h2{{margin-top:1.6em;border-bottom:1px solid #ddd}}
.card{{background:#f6f6f8;border-radius:10px;padding:1em 1.4em}}
.facts{{display:flex;flex-wrap:wrap;gap:.4em 2em}}.kv span{{color:#777;margin-right:.4em}}
.metrics{{display:flex;flex-wrap:wrap;gap:1.2em;margin-top:1em}}
.metric{{background:#fff;border-radius:8px;padding:.7em 1em;flex:1 1 260px}}
.metric .value{{font-size:2em;font-weight:600}}.anchor,.small{{font-size:80%;color:#777}}
#viewer{{width:100%;height:520px;background:#111;border-radius:8px;overflow:hidden}}
#viewer-controls{{display:flex;flex-wrap:wrap;gap:1.5em;padding:.5em 0}}
figure{{display:inline-block;margin:0 1em 1em 0}}img{{image-rendering:pixelated;max-width:100%}}
img.scale{{image-rendering:auto}}figcaption{{font-size:90%;color:#555}}
table{{border-collapse:collapse}}td{{border:1px solid #ccc;padding:2px 8px}}.row{{display:flex;flex-wrap:wrap}}
.note{{background:#fff6dd;padding:.5em 1em;border-radius:6px}}</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""
