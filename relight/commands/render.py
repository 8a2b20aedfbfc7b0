"""``relight render``: path-traced relighting renders of an asset under any environment map.

Outputs per view: ``view_NNN.exr`` (linear RGBA, premultiplied) and ``view_NNN.png`` (sRGB,
straight alpha); with ``turntable`` an animated ``turntable.gif`` of the light rotating a full
turn around the object (+y) seen from the first camera; ``render.json`` records the settings and
the seconds per frame.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from relight.commands.output import Output, command_output
from relight.data.asset import load_asset
from relight.data.camera import Camera, ring_cameras
from relight.data.capture import Capture
from relight.data.capture_io import load_capture
from relight.data.images import (
    GREY_BACKGROUND,
    image_size,
    linear_to_srgb,
    read_envmap,
    straight_srgb,
    write_exr,
    write_png,
)
from relight.render.mitsuba import RENDER_DEPTH, build_scene, render_views
from relight.runtime.backend import Backend
from relight.runtime.errors import RelightError
from relight.runtime.progress import Reporter
from relight.runtime.resources import check_memory, estimate_render, render_passes, resolve_limit


@dataclass(frozen=True)
class RenderResult:
    images: np.ndarray
    """(N, H, W, 4) linear premultiplied RGBA."""
    seconds_per_frame: float
    files: list[Path]


def views_of(capture: Path) -> Capture:
    """A capture's test split, or its train split when it has no test split: the cameras (and,
    in a turntable capture, the per-view light turns) to render from."""
    try:
        return load_capture(capture, "test", load_gt=False)
    except RelightError:
        return load_capture(capture, "train", load_gt=False)


def run(asset_dir: Path, out: Path, backend: Backend, *, envmap: Path | None = None, rotate: float = 0.0,
        cameras: list[Camera] | None = None, cameras_from: Path | None = None, orbit: int = 8, res: int = 512,
        spp: int = 256, max_depth: int = RENDER_DEPTH, turntable: bool = False, overwrite: bool = False,
        max_memory: str | int | None = None, reporter: Reporter | None = None,
        within: Output | None = None) -> RenderResult:
    """Render the asset in ``asset_dir`` (its own envmap unless ``envmap``) into ``out``, from
    ``cameras``, the cameras of the capture ``cameras_from``, or ``orbit`` ring cameras."""
    rep = reporter or Reporter()
    if spp < 1 or res < 8 or orbit < 1:
        raise RelightError(f"--spp, --res and --orbit must be positive (spp={spp}, res={res}, orbit={orbit})",
                           fix="use e.g. --spp 256 --res 512 --orbit 8")
    with command_output(out, overwrite=overwrite, inputs=[asset_dir, envmap, cameras_from], within=within) as o:
        asset = load_asset(o.locate(asset_dir))
        source = None
        if cameras is None and cameras_from is not None:
            source = views_of(cameras_from)
            cameras = source.cameras
        cams = cameras if cameras is not None else ring_cameras(asset.mesh, orbit, res)
        h, w = cams[0].height, cams[0].width
        limit, _ = resolve_limit(max_memory)
        env_w, env_h = image_size(envmap) if envmap is not None else (0, 0)  # from its header: not read yet
        check_memory(estimate_render(len(cams), h, w, spp, backend.device, limit, env_w * env_h), max_memory,
                     "relight render", "render fewer or smaller views (--orbit, --res), use a smaller --envmap, "
                     "or raise --max-memory")
        if envmap is not None:
            asset = asset.with_envmap(read_envmap(envmap), rotate)
        elif rotate:
            asset = asset.with_envmap(asset.envmap, asset.envmap_rotation_deg + rotate)
        passes = render_passes(h, w, spp, backend.device, limit)
        if passes > 1:
            rep.log(f"rendering each view in {passes} sample passes to stay within memory")
        scene = build_scene(backend, asset, max_depth)
        t = time.perf_counter()
        with rep.task("render", len(cams)) as adv:
            imgs = render_views(backend, scene, cams, spp, seed=0, on_view=lambda i, _: adv(), passes=passes,
                                light_deg=None if source is None else source.light_deg(asset.envmap_rotation_deg))
        spf = (time.perf_counter() - t) / len(cams)
        frames = []
        if turntable:
            n = max(orbit, 8)
            with rep.task("turntable", n) as adv:  # one scene, the light turned per frame (frame k: seed k)
                frames = list(render_views(backend, scene, cams[:1] * n, spp, seed=0, on_view=lambda i, _: adv(),
                                           passes=passes,
                                           light_deg=[asset.envmap_rotation_deg + 360 * k / n for k in range(n)]))
        with o.folder() as tmp:
            files = []
            for i, img in enumerate(imgs):
                write_exr(tmp / f"view_{i:03d}.exr", img)
                write_png(tmp / f"view_{i:03d}.png", straight_srgb(img))
                files += [out / f"view_{i:03d}.exr", out / f"view_{i:03d}.png"]
            if frames:
                _write_gif(tmp / "turntable.gif", frames)
                files.append(out / "turntable.gif")
            info = {"asset": str(asset_dir), "envmap": str(envmap) if envmap else "asset's own",
                    "rotate_deg": rotate, "views": len(cams), "resolution": [cams[0].height, cams[0].width],
                    "spp": spp, "max_depth": max_depth, "seconds_per_frame": round(spf, 3),
                    "device": backend.describe()}
            (tmp / "render.json").write_text(json.dumps(info, indent=2) + "\n")
    rep.log(f"wrote {len(cams)} views to {out} ({spf:.2f} s per frame)")
    return RenderResult(imgs, spf, files)


def _write_gif(path: Path, frames: list[np.ndarray], background: float = GREY_BACKGROUND) -> None:

    ims = []
    for f in frames:
        rgb = f[..., :3] + (1 - f[..., 3:4]) * background  # over mid-grey
        ims.append(Image.fromarray((linear_to_srgb(np.clip(rgb, 0, 1)) * 255 + 0.5).astype(np.uint8)))
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=80, loop=0)
