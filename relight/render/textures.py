"""Texture maps: procedural generators for built-in scenes, and bilinear lookup.

Textures are float32 arrays (H, W, C), row 0 = top of the image = v = 1 in OBJ UVs. Colour
textures (albedo) hold **linear** values; roughness/metallic are data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relight.data.images import read_linear, read_png
from relight.runtime.errors import RelightError


@dataclass(frozen=True)
class TextureSpec:
    """A texture in a scene description: an image file or a procedural pattern.

    Attributes:
        type: ``file``, ``constant``, ``checker``, ``stripes`` or ``noise``.
        file: image path relative to the scene TOML (``type = "file"``); PNG colour files are
            decoded from sRGB when ``srgb`` is true, data maps are read raw.
        srgb: decode a PNG file from sRGB (true for colour, false for roughness/metallic).
        value: constant value (1 or 3 numbers, linear).
        colors: two values (linear) for checker / stripes / the ends of noise.
        scale: number of checker cells / stripes / noise features across the UV square.
        octaves: noise octaves (fractal value noise).
        seed: noise seed.
        resolution: texel resolution of procedural textures (square).
    """

    type: str = "constant"
    file: str | None = None
    srgb: bool = True
    value: list[float] | None = None
    colors: list[list[float]] | None = None
    scale: float = 8.0
    octaves: int = 4
    seed: int = 0
    resolution: int = 512

    def __post_init__(self):
        if self.type not in ("file", "constant", "checker", "stripes", "noise"):
            raise ValueError(f"unknown texture type '{self.type}' (file, constant, checker, stripes, noise)")
        if self.type == "file" and not self.file:
            raise ValueError("type = 'file' needs file = '...'")
        if self.type == "constant" and self.value is None:
            raise ValueError("type = 'constant' needs value = ...")
        if self.type in ("checker", "stripes", "noise") and (self.colors is None or len(self.colors) != 2):
            raise ValueError(f"type = '{self.type}' needs colors = [a, b]")
        if not 1 <= self.resolution <= 8192:
            raise ValueError("resolution must be in [1, 8192]")
        if self.scale <= 0:
            raise ValueError("scale must be > 0")


def _uv_grid(res: int) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) texel-centre coordinates, OBJ convention (row 0 = v near 1)."""
    t = (np.arange(res) + 0.5) / res
    u, v = np.meshgrid(t, 1.0 - t, indexing="xy")
    return u, v


def value_noise(res: int, scale: float, octaves: int, seed: int) -> np.ndarray:
    """Tileable fractal value noise in [0, 1], (res, res)."""
    rng = np.random.default_rng(seed)
    u, v = _uv_grid(res)
    out = np.zeros((res, res))
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = max(1, int(round(scale * 2**o)))
        lattice = rng.random((n, n))
        x, y = u * n, v * n
        x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
        fx, fy = x - x0, y - y0
        sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
        a = lattice[y0 % n, x0 % n]
        b = lattice[y0 % n, (x0 + 1) % n]
        c = lattice[(y0 + 1) % n, x0 % n]
        d = lattice[(y0 + 1) % n, (x0 + 1) % n]
        out += amp * ((a * (1 - sx) + b * sx) * (1 - sy) + (c * (1 - sx) + d * sx) * sy)
        total += amp
        amp *= 0.5
    out /= total
    return (out - out.min()) / max(out.max() - out.min(), 1e-8)


def make_texture(spec: TextureSpec, channels: int, base: Path | None = None) -> np.ndarray:
    """Evaluate ``spec`` into a float32 (H, W, channels) array (linear / data values)."""

    def vec(x) -> np.ndarray:
        a = np.asarray(x, dtype=np.float32).reshape(-1)
        if a.size not in (1, channels):
            raise RelightError(f"texture value {list(a)} needs 1 or {channels} numbers",
                               fix=f"give 1 or {channels} numbers")
        return np.broadcast_to(a, (channels,))

    res = spec.resolution
    if spec.type == "file":
        path = (base or Path(".")) / spec.file
        img = read_linear(path) if spec.srgb else read_png(path) if path.suffix.lower() == ".png" \
            else read_linear(path)
        img = img[..., :3] if img.shape[-1] >= 3 else np.repeat(img[..., :1], 3, -1)
        return np.ascontiguousarray(img[..., :channels] if channels == 3 else img[..., :1]).astype(np.float32)
    if spec.type == "constant":
        return np.broadcast_to(vec(spec.value), (res, res, channels)).astype(np.float32).copy()
    a, b = vec(spec.colors[0]), vec(spec.colors[1])
    u, v = _uv_grid(res)
    if spec.type == "checker":
        t = ((np.floor(u * spec.scale) + np.floor(v * spec.scale)) % 2).astype(np.float32)
    elif spec.type == "stripes":
        t = (np.floor(u * spec.scale) % 2).astype(np.float32)
    else:
        t = value_noise(res, spec.scale, spec.octaves, spec.seed).astype(np.float32)
    return (a * (1 - t[..., None]) + b * t[..., None]).astype(np.float32)


def bilinear_taps(uv: np.ndarray, h: int, w: int):
    """The four texels and weights of a bilinear lookup with repeat wrapping, as Mitsuba's
    ``bitmap`` texture does it: ``[((row, col), weight (..., 1)), ...]`` for OBJ-convention ``uv``
    (..., 2) in an (h, w) texture (row 0 = top)."""
    x = uv[..., 0] * w - 0.5
    y = (1.0 - uv[..., 1]) * h - 0.5
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x1, y1 = (x0 + 1) % w, (y0 + 1) % h
    x0, y0 = x0 % w, y0 % h
    return [((y0, x0), (1 - fx) * (1 - fy)), ((y0, x1), fx * (1 - fy)),
            ((y1, x0), (1 - fx) * fy), ((y1, x1), fx * fy)]


def sample_bilinear(tex: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear lookup with repeat wrapping, matching Mitsuba's ``bitmap`` texture.

    Args:
        tex: (H, W, C) texture, row 0 = top.
        uv: (..., 2) OBJ-convention UVs (v up).
    Returns:
        (..., C) float32.
    """
    tex = tex if tex.ndim == 3 else tex[..., None]
    return sum(tex[rc] * k for rc, k in bilinear_taps(uv, *tex.shape[:2])).astype(np.float32)
