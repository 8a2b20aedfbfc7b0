"""Image files: EXR (OpenEXR 3.x), Radiance .hdr (mitsuba.Bitmap), PNG (Pillow).

Arrays are float32, shape (H, W, C), row 0 = top. Colour space is explicit: EXR and HDR hold
**linear** radiance; PNG holds **sRGB-encoded** values in [0, 1] and callers convert with
:func:`srgb_to_linear` / :func:`linear_to_srgb` (relight never applies a hidden transfer curve).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenEXR
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from relight.runtime.errors import RelightError

HDR_EXTS = (".exr", ".hdr", ".rgbe", ".pfm")
LDR_EXTS = (".png", ".jpg", ".jpeg")


MAX_PIXELS = 16384 * 16384
"""Largest image relight reads (width x height), checked from the file's header before decoding,
so a tiny file that claims a huge size (a decompression bomb) is refused, not unpacked."""

GREY_BACKGROUND = 0.18
"""Linear radiance of the mid-grey backdrop behind objects in previews (18 % grey, the
photographic middle grey), used wherever a render is shown over a background."""


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear (IEC 61966-2-1 piecewise curve)."""
    x = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


SRGB8_LINEAR = srgb_to_linear(np.arange(256, dtype=np.float32) / np.float32(255.0))
"""Linear value of each 8-bit sRGB code."""


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear values -> sRGB-encoded in [0, 1] (clipped; no tone mapping)."""
    x = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


def _as_hwc(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a[..., None] if a.ndim == 2 else a


def check_size(width: int, height: int, path: Path) -> None:
    """Refuse an image whose header claims more than :data:`MAX_PIXELS` (or no pixels)."""
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise RelightError(f"image claims {width}x{height} pixels (limit {MAX_PIXELS // 2**20} Mpx)", path=path,
                           fix="give images of a sensible size (or a damaged/hostile file?)")


def _hdr_size(path: Path) -> tuple[int, int]:
    """(width, height) from a Radiance .hdr header (``-Y H +X W`` after the blank line); (1, 1)
    when it cannot be parsed (the reader then gives its own error)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return 1, 1
    for line in head.split(b"\n")[1:64]:
        parts = line.split()
        if len(parts) == 4 and parts[0] in (b"-Y", b"+Y") and parts[2] in (b"+X", b"-X"):
            try:
                return int(parts[3]), int(parts[1])
            except ValueError:
                return 1, 1
    return 1, 1


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image from its header alone (EXR, HDR, PNG/JPEG), or (0, 0) when the
    header cannot be read (the reader then gives its own one-line error)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".exr":
            with OpenEXR.File(str(path), header_only=True) as f:
                (x0, y0), (x1, y1) = f.header()["dataWindow"]
            return int(x1) - int(x0) + 1, int(y1) - int(y0) + 1
        if suffix in (".hdr", ".pfm"):
            return _hdr_size(path)
        with Image.open(path) as im:
            return im.size
    except Exception:  # any unreadable header: the full read reports it
        return 0, 0


def read_exr(path: str | Path) -> np.ndarray:
    """Read an EXR as float32 (H, W, C): C = 1 (Y or single channel), 3 (RGB) or 4 (RGBA)."""

    path = Path(path)
    if not path.is_file():  # checked here: OpenEXR would also print its own message on stderr
        raise RelightError("image file not found", path=path, fix="check the path")
    try:
        with OpenEXR.File(str(path), header_only=True) as f:
            (x0, y0), (x1, y1) = f.header()["dataWindow"]
    except Exception:  # OpenEXR raises plain RuntimeError/OSError with C++ text
        raise RelightError("cannot read EXR (truncated or not an OpenEXR file)", path=path,
                           fix="check the file is a complete OpenEXR image") from None
    check_size(int(x1) - int(x0) + 1, int(y1) - int(y0) + 1, path)
    try:
        with OpenEXR.File(str(path)) as f:
            ch = {k: v.pixels for k, v in f.channels().items()}
    except Exception:  # OpenEXR raises plain RuntimeError/OSError with C++ text
        raise RelightError("cannot read EXR (truncated or not an OpenEXR file)", path=path,
                           fix="check the file is a complete OpenEXR image") from None
    for key in ("RGBA", "RGB", "Y"):
        if key in ch:
            return _as_hwc(ch[key]).astype(np.float32)
    if len(ch) == 1:
        return _as_hwc(next(iter(ch.values()))).astype(np.float32)
    raise RelightError(f"EXR has channels {sorted(ch)}, expected RGB, RGBA or Y", path=path,
                       fix="save it with R, G, B (and A) channels")


def write_exr(path: str | Path, img: np.ndarray, half: bool = False) -> None:
    """Write float (H, W), (H, W, 1|3|4) as Y / RGB / RGBA EXR with ZIP compression."""

    a = _as_hwc(np.asarray(img, dtype=np.float16 if half else np.float32))
    names = {1: "Y", 3: "RGB", 4: "RGBA"}
    if a.shape[-1] not in names:
        raise ValueError(f"write_exr: unsupported channel count {a.shape[-1]}")
    data = a[..., 0] if a.shape[-1] == 1 else a
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    try:
        OpenEXR.File(header, {names[a.shape[-1]]: np.ascontiguousarray(data)}).write(str(path))
    except RuntimeError as e:  # OpenEXR reports a full disk or a missing folder as RuntimeError
        raise RelightError(f"cannot write EXR ({str(e).splitlines()[0][:120]})", path=path,
                           fix="check free disk space, permissions and the path") from None


def read_hdr(path: str | Path) -> np.ndarray:
    """Read a Radiance RGBE (.hdr) or PFM file as linear float32 (H, W, 3) via mitsuba.Bitmap."""
    import mitsuba as mi  # Bitmap needs no variant

    path = Path(path)
    check_size(*_hdr_size(path), path)
    try:
        bmp = mi.Bitmap(str(path))
        a = np.array(bmp.convert(mi.Bitmap.PixelFormat.RGB, mi.Struct.Type.Float32, srgb_gamma=False))
    except Exception as e:
        raise RelightError(f"cannot read HDR image ({str(e).splitlines()[0][:120]})", path=path,
                           fix="check the file is a complete Radiance .hdr") from None
    return _as_hwc(a).astype(np.float32)


def _read_ldr(path: Path) -> np.ndarray:
    """A PNG/JPEG's stored values as (H, W, C): uint8, or float32 in [0, 1] for 16-bit PNGs."""
    try:
        with Image.open(path) as im:
            check_size(*im.size, path)  # from the header: nothing is decoded yet
            im.load()
            if im.mode in ("I;16", "I;16B", "I"):
                a = np.asarray(im, dtype=np.float32) / 65535.0
            else:
                if im.mode not in ("L", "LA", "RGB", "RGBA"):
                    im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
                a = np.asarray(im)
    except Image.DecompressionBombError as e:  # PIL's own header check, before ours
        raise RelightError(f"image claims too many pixels ({e})".replace(", could be decompression bomb DOS attack", ""),
                           path=path, fix="give images of a sensible size (or a damaged/hostile file?)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise RelightError(f"cannot read image ({e})", path=path,
                           fix="check the file is a complete PNG/JPEG") from None
    return _as_hwc(a)


def read_png(path: str | Path) -> np.ndarray:
    """Read a PNG/JPEG as float32 (H, W, C) in [0, 1], values still sRGB-encoded.

    8- and 16-bit PNGs are supported; C is 1, 2 (LA), 3 or 4 as stored.
    """
    a = _read_ldr(Path(path))
    return a.astype(np.float32) / np.float32(255.0) if a.dtype == np.uint8 else a


def write_png(path: str | Path, img: np.ndarray, bits: int = 8) -> None:
    """Write values in [0, 1] (already in the wanted encoding, e.g. sRGB) as 8/16-bit PNG."""

    a = np.clip(_as_hwc(np.asarray(img, dtype=np.float32)), 0.0, 1.0)
    if a.shape[-1] == 1:
        a = a[..., 0]
    if bits == 16:
        if a.ndim != 2:
            raise ValueError("16-bit PNG output is supported for single-channel images only")
        Image.fromarray((a * 65535.0 + 0.5).astype(np.uint16)).save(path)
    else:
        Image.fromarray((a * 255.0 + 0.5).astype(np.uint8)).save(path)


def is_8bit(path: str | Path) -> bool:
    """Whether ``path`` holds 8 bits a channel (JPEG, 8-bit PNG), from its header."""
    path = Path(path)
    if path.suffix.lower() not in LDR_EXTS:
        return False
    try:
        with Image.open(path) as im:
            return im.mode in ("L", "LA", "RGB", "RGBA", "P", "PA", "CMYK", "YCbCr")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False


def read_linear(path: str | Path) -> np.ndarray:
    """Read any supported image as **linear** float32 (H, W, C); PNG/JPEG colour is decoded
    from sRGB, their alpha channel is kept as is."""
    path = Path(path)
    ext = path.suffix.lower()
    if not path.is_file():
        raise RelightError("image file not found", path=path, fix="check the path")
    if ext == ".exr":
        return read_exr(path)
    if ext in (".hdr", ".rgbe", ".pfm"):
        return read_hdr(path)
    if ext in LDR_EXTS:
        a = _read_ldr(path)
        c = 3 if a.shape[-1] >= 3 else 1
        if a.dtype == np.uint8:  # a table of the 256 values: the same numbers, ~10x faster
            out = a.astype(np.float32) / np.float32(255.0) if a.shape[-1] > c else np.empty(a.shape, np.float32)
            out[..., :c] = SRGB8_LINEAR[a[..., :c]]
            return out
        out = a.copy()
        out[..., :c] = srgb_to_linear(a[..., :c])
        return out
    raise RelightError(f"unsupported image type '{ext}'", path=path,
                       fix="use .exr, .hdr, .png or .jpg")


def resize_area(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-average resize (energy preserving for downsampling) of float (H, W, C)."""

    t = torch.from_numpy(np.ascontiguousarray(_as_hwc(img), dtype=np.float32)).permute(2, 0, 1)[None]
    mode = "area" if height <= t.shape[-2] and width <= t.shape[-1] else "bilinear"
    kw = {} if mode == "area" else {"align_corners": False}
    out = F.interpolate(t, size=(height, width), mode=mode, **kw)
    return out[0].permute(1, 2, 0).numpy()


def check_radiance(img: np.ndarray, path: str | Path, what: str = "image") -> np.ndarray:
    """Refuse NaN/Inf and clearly negative values of a linear image; return it clamped at 0.

    Lossy EXR compression leaves tiny negatives (below 0.1 % of the peak), which are clamped;
    larger ones mean the file does not hold radiance (e.g. signed data or a broken export).
    """
    if not np.all(np.isfinite(img)):
        raise RelightError(f"{what} contains NaN/Inf values", path=path, fix="re-export it with finite values")
    lo = float(img.min()) if img.size else 0.0
    if lo < -1e-3 * max(1.0, float(np.abs(img).max())):
        raise RelightError(f"{what} contains negative values (min {lo:.3g})", path=path,
                           fix="clamp negative values to 0 when exporting (radiance is >= 0)")
    return np.maximum(img, 0.0)


ENVMAP_PROJECTION = "equirect (blender / three.js / hdri sites: centre = +x, left edge = -x, +y up)"
"""How every envmap file relight reads or writes is laid out: the equirectangular convention of
Blender, three.js and HDRI sites (Poly Haven). In relight's world frame (+y up; glTF's axes) the
image centre looks along +x, u = 0.25 along -z, u = 0.75 along +z, row 0 is +y. Mitsuba's own
layout is 90 degrees off (its centre looks along +z); :func:`relight.render.mitsuba.envmap_dict`
turns the emitter so that Mitsuba reads this convention."""

LEGACY_ENVMAP_PROJECTION = "latlong (mitsuba, +y up)"
"""The projection assets written before the change stored (Mitsuba's layout)."""


def rotate_equirect(env: np.ndarray, deg: float) -> np.ndarray:
    """``env`` (H, W, C) turned by ``deg`` degrees about +y (right-handed), as the renderer's
    ``rotation_deg`` turns it: a periodic column shift, linear between columns."""
    w = env.shape[1]
    shift = (float(deg) / 360.0 * w) % w
    if shift == 0.0:
        return env.copy()
    k = int(np.floor(shift))
    t = np.float32(shift - k)
    a, b = np.roll(env, -k, axis=1), np.roll(env, -k - 1, axis=1)
    return (a * (1 - t) + b * t).astype(env.dtype) if t else a


def equirect_directions(h: int, w: int) -> np.ndarray:
    """(H, W, 3) unit world directions of the pixel centres of an :data:`ENVMAP_PROJECTION` map."""
    a = 2 * np.pi * ((np.arange(w) + 0.5) / w - 0.5)  # azimuth: 0 at +x, +pi/2 at +z
    t = np.pi * (np.arange(h) + 0.5) / h  # polar angle from +y
    st = np.sin(t)[:, None]
    return np.stack([st * np.cos(a)[None], np.broadcast_to(np.cos(t)[:, None], (h, w)), st * np.sin(a)[None]], -1)


def turn_equirect(env: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """``env`` (H, W, C) under the rotation ``rot`` (3, 3) of the world: the light that came from
    direction d now comes from ``rot @ d`` (bilinear lookup, wrapping in azimuth)."""
    h, w = env.shape[:2]
    d = equirect_directions(h, w) @ np.asarray(rot, np.float64)  # rot^T applied to each direction
    a = np.arctan2(d[..., 2], d[..., 0])
    t = np.arccos(np.clip(d[..., 1], -1, 1))
    x = (a / (2 * np.pi) + 0.5) * w - 0.5
    y = np.clip(t / np.pi * h - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    y1 = np.minimum(y0 + 1, h - 1)
    x0w, x1w = x0 % w, (x0 + 1) % w
    top = env[y0, x0w] * (1 - fx) + env[y0, x1w] * fx
    bot = env[y1, x0w] * (1 - fx) + env[y1, x1w] * fx
    return (top * (1 - fy) + bot * fy).astype(env.dtype)


def read_envmap(path: str | Path) -> np.ndarray:
    """Read an equirectangular HDR environment map as linear float32 (H, W, 3), >= 0, in
    :data:`ENVMAP_PROJECTION` (what Blender, three.js and HDRI sites use).

    Requires a 2:1 lat-long image; small negative values (lossy EXR) are clamped to 0.
    """
    path = Path(path)
    img = read_linear(path)
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    img = img[..., :3]
    h, w = img.shape[:2]
    if w != 2 * h:
        raise RelightError(f"environment map is {w}x{h}, not a 2:1 lat-long image", path=path,
                           fix="provide an equirectangular map with width = 2 x height")
    return check_radiance(img, path, "environment map").astype(np.float32)


def straight_srgb(rgba: np.ndarray) -> np.ndarray:
    """Linear premultiplied RGBA -> sRGB RGBA with straight alpha, for PNG."""
    a = rgba[..., 3:4]
    rgb = np.where(a > 1e-6, rgba[..., :3] / np.maximum(a, 1e-6), 0.0)
    return np.concatenate([linear_to_srgb(np.clip(rgb, 0, 1)), np.clip(a, 0, 1)], -1)
