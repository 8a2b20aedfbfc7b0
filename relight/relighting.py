"""``relight render``: path-traced relighting renders of an asset under any environment map.

Outputs per view: ``view_NNN.exr`` (linear RGBA, premultiplied) and ``view_NNN.png`` (sRGB,
straight alpha); with ``turntable`` an animated ``turntable.gif`` of the light rotating a full
turn around the object (+y) seen from the first camera; ``render.json`` records the settings and
the seconds per frame.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relight.asset import Asset, load_asset
from relight.backend import Backend
from relight.camera import Camera, look_at
from relight.errors import RelightError
from relight.io.images import linear_to_srgb, read_envmap, write_exr, write_png
from relight.io.paths import atomic_dir, check_output_dir
from relight.progress import Reporter
from relight.render import build_scene, render_views
from relight.resources import check_memory, estimate_render, render_passes, resolve_limit


def ring_cameras(asset: Asset, n: int, res: int, elevation_deg: float = 20.0, fov_deg: float = 40.0) -> list[Camera]:
    """``n`` cameras on a horizontal ring (``elevation_deg`` above the equator) framing the mesh."""
    lo, hi = asset.mesh.bounds()
    center = (lo + hi) / 2
    r = float(np.linalg.norm(hi - lo)) / 2
    dist = 1.15 * r / math.sin(math.radians(fov_deg) / 2)
    el = math.radians(elevation_deg)
    cams = []
    for k in range(n):
        az = 2 * math.pi * k / n
        eye = center + dist * np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
        cams.append(Camera.from_fov(res, res, math.radians(fov_deg), look_at(eye, center)))
    return cams


@dataclass(frozen=True)
class RenderResult:
    images: np.ndarray
    """(N, H, W, 4) linear premultiplied RGBA."""
    seconds_per_frame: float
    files: list[Path]


def run_render(asset_dir: Path, out: Path, backend: Backend, *, envmap: Path | None = None, rotate: float = 0.0,
               cameras: list[Camera] | None = None, orbit: int = 8, res: int = 512, spp: int = 256,
               max_depth: int = 8, turntable: bool = False, overwrite: bool = False,
               max_memory: str | int | None = None, reporter: Reporter | None = None) -> RenderResult:
    """Render the asset in ``asset_dir`` (its own envmap unless ``envmap``) into ``out``."""
    rep = reporter or Reporter()
    if spp < 1 or res < 8 or orbit < 1:
        raise RelightError(f"--spp, --res and --orbit must be positive (spp={spp}, res={res}, orbit={orbit})",
                           fix="use e.g. --spp 256 --res 512 --orbit 8")
    check_output_dir(out, overwrite)
    asset = load_asset(asset_dir)
    if envmap is not None:
        asset = asset.with_envmap(read_envmap(envmap), rotate)
    elif rotate:
        asset = asset.with_envmap(asset.envmap, asset.envmap_rotation_deg + rotate)
    cams = cameras if cameras is not None else ring_cameras(asset, orbit, res)
    h, w = cams[0].height, cams[0].width
    limit, _ = resolve_limit(max_memory)
    check_memory(estimate_render(len(cams), h, w, spp, backend.device, limit), max_memory, "relight render",
                 "render fewer or smaller views (--orbit, --res), or raise --max-memory")
    passes = render_passes(h, w, spp, backend.device, limit)
    if passes > 1:
        rep.log(f"rendering each view in {passes} sample passes to stay within memory")
    scene = build_scene(backend, asset, max_depth)
    t = time.perf_counter()
    with rep.task("render", len(cams)) as adv:
        imgs = render_views(backend, scene, cams, spp, seed=0, on_view=lambda i, _: adv(), passes=passes)
    spf = (time.perf_counter() - t) / len(cams)
    frames = []
    if turntable:
        n = max(orbit, 8)
        with rep.task("turntable", n) as adv:
            for k in range(n):
                sc = build_scene(backend, asset.with_envmap(asset.envmap, asset.envmap_rotation_deg + 360 * k / n),
                                 max_depth)
                frames.append(render_views(backend, sc, cams[:1], spp, seed=k, passes=passes)[0])
                adv()
    with atomic_dir(out, overwrite) as tmp:
        files = []
        for i, img in enumerate(imgs):
            write_exr(tmp / f"view_{i:03d}.exr", img)
            write_png(tmp / f"view_{i:03d}.png", _straight_srgb(img))
            files += [out / f"view_{i:03d}.exr", out / f"view_{i:03d}.png"]
        if frames:
            _write_gif(tmp / "turntable.gif", frames)
            files.append(out / "turntable.gif")
        info = {"asset": str(asset_dir), "envmap": str(envmap) if envmap else "asset's own",
                "rotate_deg": rotate, "views": len(cams), "resolution": [cams[0].height, cams[0].width], "spp": spp,
                "max_depth": max_depth, "seconds_per_frame": round(spf, 3), "device": backend.describe()}
        (tmp / "render.json").write_text(json.dumps(info, indent=2) + "\n")
    rep.log(f"wrote {len(cams)} views to {out} ({spf:.2f} s per frame)")
    return RenderResult(imgs, spf, files)


def _straight_srgb(rgba: np.ndarray) -> np.ndarray:
    """Linear premultiplied RGBA -> sRGB RGBA with straight alpha, for PNG."""
    a = rgba[..., 3:4]
    rgb = np.where(a > 1e-6, rgba[..., :3] / np.maximum(a, 1e-6), 0.0)
    return np.concatenate([linear_to_srgb(np.clip(rgb, 0, 1)), np.clip(a, 0, 1)], -1)


def _write_gif(path: Path, frames: list[np.ndarray], background: float = 0.18) -> None:
    from PIL import Image

    ims = []
    for f in frames:
        rgb = f[..., :3] + (1 - f[..., 3:4]) * background  # over a mid-grey background
        ims.append(Image.fromarray((linear_to_srgb(np.clip(rgb, 0, 1)) * 255 + 0.5).astype(np.uint8)))
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=80, loop=0)
