"""Reading and writing captures in the NeRF-synthetic and nerfstudio layouts.

One reader handles both: ``transforms_{split}.json`` (NeRF-synthetic: ``camera_angle_x``, RGBA
PNG where alpha = mask, ``file_path`` without extension) and nerfstudio's ``transforms.json``
(``fl_x, fl_y, cx, cy, w, h`` at the top level, optionally overridden per frame, optional
``mask_path``). ``transform_matrix`` is camera-to-world with OpenGL axes in both. A top-level
``"light_frame": "rig"`` marks a turntable capture (:attr:`relight.data.capture.Capture.light_turns_deg`).

Captures written by ``relight synth`` add, next to each PNG, a linear premultiplied RGBA EXR of
the same name, which the reader prefers (``prefer_exr``), plus optional GT AOVs and relit views
described under a ``"relight"`` key of the JSON.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from relight.data.camera import Camera
from relight.data.capture import LIGHT_FRAMES, Capture, GroundTruth, RelitViews, rig_turns_deg
from relight.data.images import (
    LDR_EXTS,
    check_radiance,
    is_8bit,
    read_exr,
    read_linear,
    read_png,
    resize_area,
    straight_srgb,
    write_exr,
    write_png,
)
from relight.data.views import DiskViews, views_of
from relight.runtime.errors import RelightError
from relight.runtime.paths import is_finite_number, read_json, resolve_inside, write_json
from relight.runtime.resources import CaptureSize

FORMAT_VERSION = 1
DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")


def find_transforms(path: Path, split: str) -> tuple[Path, bool]:
    """The JSON to read for ``split`` and whether it is a single file for all splits."""
    path = Path(path)
    if path.is_file():
        return path, not path.name.startswith("transforms_")
    if not path.is_dir():
        raise RelightError("capture not found", path=path, fix="pass a capture folder or its transforms JSON")
    has_splits = any((path / f"transforms_{s}.json").is_file() for s in ("test", "val"))
    own = path / f"transforms_{split}.json"
    if own.is_file():
        return own, not has_splits
    for name in ("transforms.json", "transforms_train.json"):
        if (path / name).is_file():
            return path / name, True
    raise RelightError(f"no transforms_{split}.json or transforms.json in the folder", path=path,
                       fix="pass a NeRF-synthetic or nerfstudio capture folder")


def _frame_image_path(root: Path, rel: str, src: Path, prefer_exr: bool) -> Path:
    p = resolve_inside(root, rel, "frame file_path", src)
    if p.suffix.lower() in (".exr", ".hdr") + LDR_EXTS:
        if prefer_exr and p.with_suffix(".exr").is_file():
            return p.with_suffix(".exr")
        if not p.is_file():
            raise RelightError(f"frame image '{rel}' does not exist", path=src, fix="fix file_path or add the image")
        return p
    for ext in ((".exr", ".png") if prefer_exr else (".png", ".exr")) + (".jpg", ".jpeg"):
        q = resolve_inside(root, rel + ext, "frame file_path", src)
        if q.is_file():
            return q
    raise RelightError(f"frame image '{rel}' does not exist (tried .exr/.png/.jpg)", path=src,
                       fix="fix file_path or add the image")


def _float(d: dict, key: str, src: Path) -> float | None:
    if key not in d:
        return None
    v = d[key]
    if not is_finite_number(v):
        raise RelightError(f"'{key}' must be a finite number, got {v!r}", path=src, fix=f"fix '{key}'")
    return float(v)


def _camera(top: dict, frame: dict, w: int, h: int, src: Path, i: int) -> Camera:
    """Camera of frame ``i`` whose full-resolution image is ``w`` x ``h`` pixels."""
    def get(k):
        return _float(frame, k, src) if k in frame else _float(top, k, src)

    for k in DISTORTION_KEYS:
        if (get(k) or 0.0) != 0.0:
            raise RelightError(f"frame {i} has lens distortion ('{k}'), which relight does not model",
                               path=src, fix="undistort the images first (e.g. ns-process-data) and drop k*/p*")
    dw, dh = get("w"), get("h")
    if (dw is not None and int(dw) != w) or (dh is not None and int(dh) != h):
        raise RelightError(f"frame {i} declares {dw and int(dw)}x{dh and int(dh)} pixels but its image is {w}x{h}",
                           path=src, fix="make w/h match the image files")
    fx, fy = get("fl_x"), get("fl_y")
    if fx is None:
        ax = get("camera_angle_x")
        if ax is None:
            raise RelightError(f"frame {i} has no focal length (need 'camera_angle_x' or 'fl_x')",
                               path=src, fix="add camera_angle_x (radians) or fl_x/fl_y (pixels)")
        if not 0 < ax < math.pi:
            raise RelightError(f"camera_angle_x={ax} is not an angle in (0, pi) radians", path=src,
                               fix="give the horizontal field of view in radians")
        fx = 0.5 * w / math.tan(0.5 * ax)
    if fy is None:
        ay = get("camera_angle_y")
        fy = 0.5 * h / math.tan(0.5 * ay) if ay else fx
    cx, cy = get("cx"), get("cy")
    if "transform_matrix" not in frame:
        raise RelightError(f"frame {i} has no 'transform_matrix'", path=src, fix="add the 4x4 camera-to-world matrix")
    try:
        m = np.asarray(frame["transform_matrix"], dtype=np.float64)
    except (ValueError, TypeError):
        raise RelightError(f"frame {i}: transform_matrix is not a numeric matrix", path=src,
                           fix="write it as a 4x4 list of numbers") from None
    if m.shape not in ((4, 4), (3, 4)):
        raise RelightError(f"frame {i}: transform_matrix must be a 4x4 matrix, got shape {m.shape}",
                           path=src, fix="write it as a 4x4 list of numbers")
    if not np.all(np.isfinite(m)):
        raise RelightError(f"frame {i}: transform_matrix has NaN/Inf entries", path=src,
                           fix="write finite numbers (camera-to-world, OpenGL axes)")
    r = m[:3, :3]
    if np.abs(r.T @ r - np.eye(3)).max() > 1e-2 or np.linalg.det(r) < 0 or (
            m.shape == (4, 4) and np.abs(m[3] - [0, 0, 0, 1]).max() > 1e-6):
        raise RelightError(f"frame {i}: transform_matrix is not a rigid camera pose (its rotation is scaled, "
                           "sheared, mirrored or singular, or its last row is not 0 0 0 1)", path=src,
                           fix="write the camera-to-world matrix of a pinhole camera (rotation + translation)")
    if np.abs(m[:3, 3]).max() > 1e6:
        raise RelightError(f"frame {i}: camera position {m[:3, 3].tolist()} is absurdly far", path=src,
                           fix="express the poses in the object's units (a scene a few units across)")
    try:
        return Camera(w, h, fx, fy, w / 2.0 if cx is None else cx, h / 2.0 if cy is None else cy, m)
    except RelightError as e:
        raise RelightError(f"frame {i}: {e.problem}", path=src, fix="fix the frame's intrinsics") from None


def _load_view(path: Path, mask_path: Path | None, scale: int) -> tuple[np.ndarray, np.ndarray, bool, tuple]:
    """(rgb premultiplied linear, mask, has_mask, full (h, w)) of a frame, area-downscaled."""
    img = read_linear(path)
    if path.suffix.lower() not in LDR_EXTS:  # 8-bit codes are finite and >= 0 already
        img = check_radiance(img, path)
    if scale > min(img.shape[:2]):
        raise RelightError(f"--downscale {scale} is larger than the image ({img.shape[1]}x{img.shape[0]})",
                           path=path, fix=f"use --downscale {max(1, min(img.shape[:2]) // 8)} or less")
    c = img.shape[-1]
    rgb = img[..., :3] if c >= 3 else np.repeat(img[..., :1], 3, axis=-1)
    has_mask = c in (2, 4)
    alpha = img[..., -1] if has_mask else None
    if alpha is not None and path.suffix.lower() != ".exr":  # PNG alpha is straight: premultiply
        rgb = rgb * alpha[..., None]
    if mask_path is not None:
        m = read_png(mask_path) if mask_path.suffix.lower() != ".exr" else read_exr(mask_path)
        if m.shape[:2] != img.shape[:2]:
            raise RelightError(f"mask is {m.shape[1]}x{m.shape[0]} but its image is {img.shape[1]}x{img.shape[0]}",
                               path=mask_path, fix="give masks the size of their images")
        alpha = m[..., 0]
        rgb = rgb * alpha[..., None]
        has_mask = True
    if alpha is None:
        alpha = np.ones(img.shape[:2], np.float32)
    if path.suffix.lower() not in LDR_EXTS:
        rgb = np.maximum(rgb, 0.0)
    if scale > 1:
        h, w = img.shape[0] // scale, img.shape[1] // scale
        rgb = resize_area(rgb[: h * scale, : w * scale], h, w)
        alpha = resize_area(alpha[: h * scale, : w * scale, None], h, w)[..., 0]
    return (rgb.astype(np.float32, copy=False), np.clip(alpha, 0, 1).astype(np.float32, copy=False), has_mask,
            img.shape[:2])


def _split_frames(frames: list, split: str, single: bool, holdout_every: int) -> list:
    """The frames of ``split``: for a single-file capture with ``holdout_every = k > 0``, every
    k-th frame is ``test`` and the others ``train``; otherwise all of them."""
    if not single or holdout_every <= 0:
        return frames
    return [f for i, f in enumerate(frames) if (i % holdout_every == 0) == (split == "test")]


def load_capture(path: str | Path, split: str = "train", *, downscale: int = 1, holdout_every: int = 0,
                 prefer_exr: bool = True, load_gt: bool = True) -> Capture:
    """Read a NeRF-synthetic or nerfstudio capture.

    Args:
        path: capture folder or a transforms JSON.
        split: ``train``/``val``/``test``; for a single-file capture (nerfstudio, or a set with
            only ``transforms_train.json``) with ``holdout_every = k > 0``, ``test`` is every k-th
            frame and ``train`` the rest; with ``k = 0`` all frames are used.
        downscale: integer area-downscaling factor applied on load (memory friendly).
        prefer_exr: read the linear EXR next to a PNG when present.
        load_gt: also read GT AOVs and relit views when the JSON lists them.
    """
    tf, single = find_transforms(Path(path), split)
    root = tf.parent
    meta = read_json(tf)
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list):
        raise RelightError("expected a JSON object with a 'frames' list", path=tf,
                           fix="use the NeRF-synthetic / nerfstudio transforms format")
    frames = meta["frames"]
    frames = _split_frames(frames, split, single, holdout_every)
    if not frames:
        raise RelightError("the capture has no frames", path=tf, fix="add frames to the 'frames' list")
    if not isinstance(downscale, int) or downscale < 1:
        raise RelightError(f"downscale must be a positive integer, got {downscale!r}", fix="use e.g. 1, 2, 4 or 8")
    cams, sources, names, any_mask, size, eight_bit = [], [], [], False, None, True
    for i, fr in enumerate(frames):
        if not isinstance(fr, dict) or "file_path" not in fr:
            raise RelightError(f"frame {i} has no 'file_path'", path=tf, fix="give every frame a file_path")
        ip = _frame_image_path(root, fr["file_path"], tf, prefer_exr)
        mp = resolve_inside(root, fr["mask_path"], "frame mask_path", tf) if "mask_path" in fr else None
        if mp is not None and not mp.is_file():
            raise RelightError(f"mask '{fr['mask_path']}' does not exist", path=tf, fix="fix mask_path")
        rgb, alpha, has_mask, (fh, fw) = _load_view(ip, mp, downscale)  # read once: bad input fails here
        if size is None:
            size = rgb.shape[:2]
        elif rgb.shape[:2] != size:
            raise RelightError(f"image is {rgb.shape[1]}x{rgb.shape[0]} but earlier frames are {size[1]}x{size[0]}",
                               path=ip, fix="give every frame the same resolution")
        cams.append(_camera(meta, fr, fw, fh, tf, i).downscaled(downscale))
        sources.append((ip, mp))
        names.append(ip.stem)
        any_mask |= has_mask
        eight_bit &= is_8bit(ip)
    del rgb, alpha
    hdr = ip.suffix.lower() in (".exr", ".hdr")
    frame = meta.get("light_frame", "world")
    if frame not in LIGHT_FRAMES:
        raise RelightError(f"light_frame must be one of {', '.join(LIGHT_FRAMES)}, got {frame!r}", path=tf,
                           fix="write 'world' (light fixed to the object) or 'rig' (a turntable: light fixed to the cameras)")
    store = DiskViews(lambda i: _load_view(*sources[i], downscale)[:2], len(sources), *size, eight_bit=eight_bit)
    images, masks = views_of(store)  # views stay on disk: read one at a time when a stage asks
    cap = Capture(cams, images, masks, names, root=root, hdr=hdr, has_masks=any_mask,
                  light_turns_deg=rig_turns_deg(cams) if frame == "rig" else None)
    extra = meta.get("relight") if load_gt else None
    fmt = extra.get("format", FORMAT_VERSION) if isinstance(extra, dict) else FORMAT_VERSION
    if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise RelightError(f"capture 'relight' format {fmt!r} is newer than this relight supports "
                           f"({FORMAT_VERSION})", path=tf, fix="upgrade relight, or drop the 'relight' key")
    if isinstance(extra, dict) and "max_depth" in extra:
        depth = extra["max_depth"]
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 64:
            raise RelightError(f"'relight' block: max_depth must be an integer in [1, 64], got {depth!r}", path=tf,
                               fix="write the path length the views were rendered with, or drop the key")
        cap = replace(cap, max_depth=depth)
    if isinstance(extra, dict) and split == "test" and not single:
        cap = replace(cap, reference_spp=_reference_spp(extra, tf, downscale))
    if isinstance(extra, dict) and not single:
        cap = _load_extras(cap, extra, root, tf, downscale)
    return cap


def _reference_spp(extra: dict, tf: Path, downscale: int) -> int | None:
    """``spec.cameras.test_spp`` of a ``relight synth`` test split's ``relight`` block times
    ``downscale²`` (None when the block does not record it); a one-line error when it is not a
    positive integer."""
    cams = extra.get("spec", {}).get("cameras") if isinstance(extra.get("spec"), dict) else None
    spp = cams.get("test_spp") if isinstance(cams, dict) else None
    if spp is None:
        return None
    if isinstance(spp, bool) or not isinstance(spp, int) or spp < 1:
        raise RelightError(f"'relight' block: spec.cameras.test_spp must be a positive integer, got {spp!r}", path=tf,
                           fix="write the samples per pixel the test views were rendered with, or drop the key")
    return spp * downscale * downscale


def peek_capture(path: str | Path, split: str = "train", *, downscale: int = 1,
                 holdout_every: int = 0) -> tuple[int, int, int, int]:
    """``(views, height, width, extra_channels)`` of a split, from its JSON and the first image
    only, so that memory can be estimated before the images are loaded. Errors as :func:`load_capture`."""
    tf, single = find_transforms(Path(path), split)
    meta = read_json(tf)
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list) or not meta["frames"]:
        return load_capture(path, split).images.shape[:3] + (0,)  # raises the one-line error
    frames = _split_frames(meta["frames"], split, single, holdout_every)
    first = frames[0] if frames and isinstance(frames[0], dict) and "file_path" in frames[0] else None
    if first is None:
        return load_capture(path, split).images.shape[:3] + (0,)
    first_path = _frame_image_path(tf.parent, first["file_path"], tf, True)
    h, w = read_linear(first_path).shape[:2]
    if downscale > min(h, w):
        raise RelightError(f"--downscale {downscale} is larger than the image ({w}x{h})", path=first_path,
                           fix=f"use --downscale {max(1, min(h, w) // 8)} or less")
    extra = meta.get("relight") if isinstance(meta.get("relight"), dict) and not single else {}
    aov_ch = {"albedo": 3, "roughness": 1, "metallic": 1, "normals": 3}
    ch = sum(aov_ch.get(k, 3) for k in (extra.get("aovs") or {})) + 3 * len(extra.get("relit") or {})
    return len(frames), h // max(downscale, 1), w // max(downscale, 1), ch


def _load_extras(cap: Capture, extra: dict, root: Path, tf: Path, scale: int) -> Capture:
    def bad(what: str):
        return RelightError(f"'relight' block: {what}", path=tf,
                            fix="fix the 'relight' block or drop it (it only holds evaluation data)")

    def stack(pattern, channels: int | None, what: str) -> np.ndarray:
        if not isinstance(pattern, str) or "{name}" not in pattern:
            raise bad(f"{what} must be a path pattern containing '{{name}}', got {pattern!r}")
        out = []
        for name in cap.names:
            p = resolve_inside(root, pattern.replace("{name}", name), "AOV path", tf)
            a = read_linear(p)
            if (a.shape[0] // scale, a.shape[1] // scale) != cap.images.shape[1:3]:
                raise RelightError(f"{what} is {a.shape[1]}x{a.shape[0]}, not the size of its view", path=p,
                                   fix="write AOVs at the resolution of the views")
            if scale > 1:
                h, w = a.shape[0] // scale, a.shape[1] // scale
                a = resize_area(a[: h * scale, : w * scale], h, w)
            if channels not in (None, 1) and a.shape[-1] == 1:  # grey AOV: broadcast
                a = np.repeat(a, channels, axis=-1)
            out.append(a[..., 0] if channels == 1 else a[..., :channels])
        return np.stack(out).astype(np.float32)

    aovs = extra.get("aovs") or {}
    relit_spec = extra.get("relit") or {}
    if not isinstance(aovs, dict) or not isinstance(relit_spec, dict):
        raise bad("'aovs' and 'relit' must be tables")
    gt = None
    if aovs:
        gt = GroundTruth(albedo=stack(aovs["albedo"], 3, "albedo AOV") if "albedo" in aovs else None,
                         roughness=stack(aovs["roughness"], 1, "roughness AOV") if "roughness" in aovs else None,
                         normals=stack(aovs["normals"], 3, "normals AOV") if "normals" in aovs else None,
                         metallic=stack(aovs["metallic"], 1, "metallic AOV") if "metallic" in aovs else None,
                         mask=np.asarray(cap.masks))
    relit = {}
    for env, spec in relit_spec.items():
        if not isinstance(spec, dict) or "images" not in spec or not isinstance(spec.get("envmap"), str):
            raise bad(f"relit set '{env}' needs 'images' (a pattern) and 'envmap' (a path)")
        rot = spec.get("rotation_deg", 0.0)
        if not is_finite_number(rot):
            raise bad(f"relit set '{env}': rotation_deg must be a finite number")
        imgs = stack(spec["images"], 4, f"relit set '{env}'")[..., :3]
        relit[env] = RelitViews(resolve_inside(root, spec["envmap"], "relit envmap", tf), float(rot), imgs)
    return replace(cap, gt=gt, relit=relit)


def camera_frame(cam: Camera, file_path: str) -> dict:
    """A transforms-JSON frame with full nerfstudio-style intrinsics for ``cam``."""
    return {"file_path": file_path, "fl_x": cam.fx, "fl_y": cam.fy, "cx": cam.cx, "cy": cam.cy,
            "w": cam.width, "h": cam.height, "transform_matrix": cam.c2w.tolist()}


def write_rgba(stem: Path, rgba: np.ndarray) -> None:
    """Write a linear premultiplied RGBA view as ``stem.exr`` and straight-alpha sRGB ``stem.png``."""
    write_exr(stem.with_suffix(".exr"), rgba)
    write_png(stem.with_suffix(".png"), straight_srgb(rgba))


def write_transforms(path: Path, cameras: list[Camera], file_paths: list[str], extra: dict | None = None) -> None:
    """Write a NeRF-synthetic-compatible transforms JSON (plus per-frame intrinsics)."""
    meta = {"camera_angle_x": cameras[0].fov_x,
            "frames": [camera_frame(c, f) for c, f in zip(cameras, file_paths, strict=True)]}
    if extra:
        meta["relight"] = {"format": FORMAT_VERSION, **extra}
    write_json(path, meta)


def capture_memory(capture: Path, downscale: int = 1, holdout_every: int = 0) -> CaptureSize:
    """The train split's size and the bytes the test split's ground truth holds in memory, from the
    capture's JSON and first images (:func:`peek_capture`), for the memory guard."""
    n, h, w, _ = peek_capture(capture, "train", downscale=downscale, holdout_every=holdout_every)
    tf, _ = find_transforms(Path(capture), "train")
    frames = read_json(tf)["frames"]
    first = _frame_image_path(tf.parent, frames[0]["file_path"], tf, True)
    extra = nt = 0
    try:
        nt, ht, wt, ch = peek_capture(capture, "test", downscale=downscale, holdout_every=holdout_every)
        extra = nt * ht * wt * 4 * (ch + 1) if ch else 0  # GT AOVs, relit views and the GT mask: float32
    except RelightError:
        pass
    return CaptureSize(n, h, w, is_8bit(first), extra, nt)
