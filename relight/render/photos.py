"""``relight synth SCENE --photos``: a capture as a camera delivers it, the truth kept aside.

A real capture is a folder of 8-bit JPEGs: the table and the room behind the object are in
every photo, there is no alpha, auto-exposure changes from shot to shot and the lens has radial
distortion. This renders such a folder from a scene, so that ``relight poses`` (structure from
motion, automatic masks) and exposure compensation can be *scored*::

    OUT/photos/r_000.jpg      sRGB JPEG (quality 92): the object standing on a textured floor,
                              the scene's envmap visible above the horizon (same light), exposure
                              base * 2**ev_i: base metered once for the capture (centre-weighted
                              mean to 18 % grey), ev_i ~ U(-ev, +ev), radial distortion k1
    OUT/truth/                the ordinary ``relight synth`` capture of the same cameras (pinhole,
                              the object alone, masked, linear EXR, GT AOVs, relit test views, ``gt/``)
    OUT/truth/photo_masks/    GT coverage in the photos' own (distorted) pixels, 8-bit PNG
    OUT/truth/posed/          the photos before distortion with GT poses and GT masks, a
                              nerfstudio capture: "the same fit with GT poses and masks"
    OUT/truth/photos.json     per photo: ``exposure_ev``; ``base_exposure``; the lens: COLMAP SIMPLE_RADIAL f, cx, cy, k1

Distortion follows COLMAP's SIMPLE_RADIAL model: normalized image coordinates ``x_d = x_u (1 +
k1 |x_u|^2)``. Views are rendered on a pinhole canvas padded by :func:`_pad` pixels so that every
distorted pixel finds its source. The floor shadows and lights the object from below, so the
photos' object is not pixel-identical to the truth views (a real table does the same); scores
compare fits *of the photos* (poses/masks from SfM vs the GT ones in ``posed/``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from relight.data.asset import Asset
from relight.data.camera import Camera
from relight.data.capture_io import camera_frame
from relight.data.images import linear_to_srgb, write_png
from relight.data.mesh import Mesh
from relight.render.mitsuba import (
    bitmap_texture,
    bsdf_dict,
    build_scene,
    envmap_dict,
    mitsuba_mesh,
    pixel_uv,
    render_views,
)
from relight.render.scene import SceneSpec
from relight.runtime.backend import Backend
from relight.runtime.paths import write_json
from relight.runtime.progress import Reporter

EXPOSURE_EV = 0.5
"""Exposures are drawn uniformly in [-EXPOSURE_EV, +EXPOSURE_EV] stops (auto-exposure)."""
DISTORTION_K1 = -0.05
"""Mild barrel distortion (COLMAP SIMPLE_RADIAL k1, normalized coordinates): about 1.3 % at a
40 degree lens' corners, typical of a phone's main camera after its own correction."""
JPEG_QUALITY = 92
METER_KEY = 0.18
"""Auto-exposure's target: the centre-weighted mean linear luminance of a view is brought to
18 % (the mid-grey a reflected-light meter is calibrated to)."""


def undistort(xd, yd, k1: float):
    """Normalized coordinates ``(x_u, y_u)`` whose SIMPLE_RADIAL image is ``(x_d, y_d)``: the fixed
    point of ``x_u = x_d / (1 + k1 |x_u|^2)`` (scalars or arrays)."""
    xu, yu = xd, yd
    for _ in range(20):
        f = 1 + k1 * (xu * xu + yu * yu)
        xu, yu = xd / f, yd / f
    return xu, yu


def _pad(cam: Camera, k1: float) -> int:
    """Pixels of padding the pinhole canvas needs so the distorted image's corners are covered."""
    r_d = math.hypot(cam.width / 2 / cam.fx, cam.height / 2 / cam.fy)
    r_u, _ = undistort(r_d, 0.0, k1)
    return int(math.ceil((r_u / r_d - 1) * max(cam.width, cam.height) / 2)) + 2


def padded(cam: Camera, pad: int) -> Camera:
    """``cam`` on a canvas ``pad`` pixels larger on every side (same focal length and axis)."""
    return replace(cam, width=cam.width + 2 * pad, height=cam.height + 2 * pad, cx=cam.cx + pad, cy=cam.cy + pad)


def distortion_map(cam: Camera, k1: float, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel centre of the distorted photo of ``cam``, the (x, y) pixel position to
    sample in the padded pinhole render (float32 (H, W) each, OpenCV ``remap`` convention:
    integer = pixel centre)."""
    ys, xs = np.mgrid[0:cam.height, 0:cam.width].astype(np.float64) + 0.5
    xu, yu = undistort((xs - cam.cx) / cam.fx, (ys - cam.cy) / cam.fy, k1)
    return ((xu * cam.fx + cam.cx + pad - 0.5).astype(np.float32),
            (yu * cam.fy + cam.cy + pad - 0.5).astype(np.float32))


def remap(img: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Bilinear resampling of ``img`` (H, W, C) float32 at ``maps`` (see :func:`distortion_map`)."""
    import cv2

    out = cv2.remap(np.ascontiguousarray(img, np.float32), maps[0], maps[1], cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out if out.ndim == 3 else out[..., None]


def write_jpeg(path: Path, linear_rgb: np.ndarray) -> None:
    """Linear RGB -> 8-bit sRGB JPEG (what a camera writes)."""
    srgb = np.round(np.clip(linear_to_srgb(np.clip(linear_rgb, 0, 1)), 0, 1) * 255).astype(np.uint8)
    Image.fromarray(srgb).save(path, quality=JPEG_QUALITY)


FLOOR_SIZE = 12.0
"""Edge of the square floor (scene units) the object stands on in the photos."""
FLOOR_TEXELS = 4096
"""Texels along the floor's edge: 341 a unit, about one a pixel for the nearest 512-pixel views."""
FLOOR_CELLS = 144
"""Noise cells of the coarsest octave along the floor's edge (12 a unit, ~0.08 units each)."""


def floor_mesh(y: float, size: float = FLOOR_SIZE) -> Mesh:
    """A square floor at height ``y`` facing +y, one texture across it (UVs 0..1, no tiling)."""
    h = size / 2
    v = np.array([[-h, y, -h], [h, y, -h], [h, y, h], [-h, y, h]], np.float64)
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    return Mesh(v, np.array([[0, 2, 1], [0, 3, 2]], np.int64), uvs=uv).with_normals()


def floor_texture(seed: int, res: int = FLOOR_TEXELS, cells: int = FLOOR_CELLS, octaves: int = 5) -> np.ndarray:
    """A fine stone-like albedo (linear RGB, (res, res, 3) float32) that never repeats: fractal
    value noise, each octave a random lattice upsampled bicubically. Something for SIFT to find
    that is not ambiguous: a texture tiled across the floor lets a feature match its copy one tile
    away, and a pair of views whose whole floor is shifted by a tile passes geometric
    verification. (On the tiled floor, with the photos also clipped white, the blob's SfM poses
    were up to 22 degrees off; with both fixed, 0.1 degrees.)"""
    import cv2

    rng = np.random.default_rng(seed)
    g = np.zeros((res, res), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = cells * 2**o + 1
        g += amp * cv2.resize(rng.random((n, n), dtype=np.float32), (res, res), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    lo, hi = np.percentile(g[::8, ::8], [0.02, 99.98])  # robust range: a large floor has rare extremes
    g = np.clip((g - lo) / max(float(hi - lo), 1e-8), 0, 1)
    tint = np.array([0.42, 0.36, 0.3], np.float32)
    return np.clip(tint * (0.45 + 0.9 * g[..., None]), 0.02, 0.9).astype(np.float32)


def photo_scene(backend: Backend, asset: Asset, seed: int, max_depth: int):
    """Mitsuba scene of the photos: the object standing on a textured floor, under its envmap,
    the envmap visible above the horizon."""
    mi = backend.mitsuba()
    lo, _ = asset.mesh.bounds()
    floor = mi.load_dict({"type": "diffuse", "reflectance": bitmap_texture(floor_texture(seed))})
    return mi.load_dict({
        "type": "scene",
        "integrator": {"type": "path", "max_depth": int(max_depth), "hide_emitters": False},
        "object": mitsuba_mesh(mi, asset.mesh, mi.load_dict(bsdf_dict(asset))),
        "floor": mitsuba_mesh(mi, floor_mesh(float(lo[1]) - 1e-3), floor, name="floor"),
        "light": envmap_dict(mi, asset.envmap, asset.envmap_rotation_deg),
    })


def centre_weights(height: int, width: int, sigma: float = 0.25) -> np.ndarray:
    """(H, W) Gaussian weights about the image centre, ``sigma`` in units of the longer side
    (a centre-weighted meter)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    d2 = ((xs - width / 2) ** 2 + (ys - height / 2) ** 2) / max(height, width) ** 2
    return np.exp(-d2 / (2 * sigma**2))


def meter(images: list[np.ndarray]) -> float:
    """Exposure factor that brings the mean over ``images`` (linear RGB, (H, W, >=3)) of their
    centre-weighted mean luminance (Rec. 709) to :data:`METER_KEY`."""
    lum = [np.asarray(im[..., :3], np.float64) @ np.array([0.2126, 0.7152, 0.0722]) for im in images]
    w = centre_weights(*lum[0].shape)
    mean = float(np.mean([(x * w).sum() / w.sum() for x in lum]))
    return METER_KEY / max(mean, 1e-8)


def metered_exposure(backend: Backend, scene, cams: list[Camera], every: int = 8, side: int = 128) -> float:
    """The capture's base exposure, metered as a camera does before the shots: :func:`meter` of
    a quick preview (every ``every``-th view at ``side`` pixels, 16 spp). Without it a bright
    object under a bright sky came out clipped white: 35 % of spot's object pixels, 42 % of the
    blob's, in the 512-pixel photos at +-0.5 EV."""
    views = [c.scaled(side, max(1, round(side * c.height / c.width))) for c in cams[::every]]
    return meter([im[..., :3] for im in render_views(backend, scene, views, 16, seed=7)])


def coverage(backend: Backend, object_scene, cam: Camera, n: int = 3) -> np.ndarray:
    """(H, W) fraction of ``n`` x ``n`` rays per pixel that hit the object (GT mask)."""
    acc = np.zeros((cam.height, cam.width), np.float32)
    for a in range(n):
        for b in range(n):
            acc += pixel_uv(backend, object_scene, cam, ((a + 0.5) / n, (b + 0.5) / n))[1]
    return acc / (n * n)


def render_photos(spec: SceneSpec, backend: Backend, out: Path, *, ev: float = EXPOSURE_EV,
                  k1: float = DISTORTION_K1, reporter: Reporter | None = None) -> None:
    """Write ``out/photos`` and the truth extras (layout in the module docstring) for the
    training cameras of ``spec``; ``out/truth`` is the ordinary capture, written before."""
    rep = reporter or Reporter()
    c = spec.cameras
    cams = spec.train_cameras()
    asset = spec.build_asset()
    evs = np.random.default_rng(c.seed).uniform(-ev, ev, len(cams))
    for d in ("photos", "truth/photo_masks", "truth/posed/images", "truth/posed/masks"):
        (out / d).mkdir(parents=True, exist_ok=True)
    scene = photo_scene(backend, asset, c.seed, c.max_depth)
    alone = build_scene(backend, asset, 1)
    pad = _pad(cams[0], k1)
    maps = distortion_map(cams[0], k1, pad)
    base = metered_exposure(backend, scene, cams)
    frames = []
    with rep.task("photos", len(cams)) as advance:
        for i, cam in enumerate(cams):
            big = padded(cam, pad)
            rgb = render_views(backend, scene, [big], c.spp, seed=c.seed + 20_000 + i)[0][..., :3]
            rgb = rgb * (base * 2.0 ** evs[i])
            alpha = coverage(backend, alone, big)
            name = f"r_{i:03d}"
            write_jpeg(out / "photos" / f"{name}.jpg", remap(rgb, maps))
            write_png(out / "truth/photo_masks" / f"{name}.png", remap(alpha[..., None], maps)[..., 0])
            crop = (slice(pad, pad + cam.height), slice(pad, pad + cam.width))
            write_jpeg(out / "truth/posed/images" / f"{name}.jpg", rgb[crop])
            write_png(out / "truth/posed/masks" / f"{name}.png", (alpha[crop] >= 0.5).astype(np.float32))
            fr = camera_frame(cam, f"images/{name}.jpg")
            fr["mask_path"] = f"masks/{name}.png"
            frames.append(fr)
            advance()
    write_json(out / "truth/posed/transforms.json", {"camera_model": "PINHOLE", "frames": frames})
    c0 = cams[0]
    write_json(out / "truth/photos.json", {
        "photos": [{"file": f"photos/r_{i:03d}.jpg", "exposure_ev": float(e)} for i, e in enumerate(evs)],
        "base_exposure": base,
        "lens": {"model": "SIMPLE_RADIAL", "f": c0.fx, "cx": c0.cx, "cy": c0.cy, "k1": k1,
                 "width": c0.width, "height": c0.height},
        "setting": "the object on a textured floor (12 x 12 units), the envmap visible above the horizon",
        "jpeg_quality": JPEG_QUALITY,
        "truth": "transforms_train.json: the photos' pinhole cameras (GT poses) and the object alone; "
                 "photo_masks/: GT coverage in photo pixels; posed/: the undistorted photos with GT poses and masks"})
