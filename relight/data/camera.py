"""Pinhole cameras and the projection conventions shared by every renderer.

Conventions (the NeRF-synthetic / Blender / OpenGL ones):

* ``c2w`` is a 4x4 camera-to-world matrix. Camera axes: +x right, +y up, the camera looks
  along **-z**. World units are the scene's (our built-in scenes fit in the unit sphere).
* Pixel coordinates ``(u, v)`` are continuous, origin at the **top-left corner** of the image,
  ``u`` to the right, ``v`` down; pixel ``(i, j)`` (column, row) has its centre at
  ``(i + 0.5, j + 0.5)``. Intrinsics ``fx, fy, cx, cy`` are in pixels in that frame.
* Clip space (:meth:`Camera.mvp`) is OpenGL's: NDC x = -1 at the left edge and +1 at the
  right edge, NDC y = +1 at the **top** edge, depth in [-1, 1] between near and far.
  nvdiffrast stores row 0 at NDC y = -1, so its outputs are flipped vertically by the raster
  layer to keep row 0 = top everywhere in relight.
* Mitsuba's perspective sensor looks along +z with +x to the left: ``c2w_mitsuba`` flips the
  x and z axes; the principal point becomes ``principal_point_offset = 0.5 - (cx/W, cy/H)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from relight.data.mesh import Mesh
from relight.runtime.errors import RelightError

GL_TO_MITSUBA = np.diag([-1.0, 1.0, -1.0, 1.0])
NEAR, FAR = 0.01, 100.0
"""Clip planes of the rasterizer's projection (world units): objects are normalized to about unit
size and cameras a few units away, so this keeps depth precision without clipping them."""


@dataclass(frozen=True)
class Camera:
    """A pinhole camera (no distortion).

    Attributes:
        width, height: image size in pixels.
        fx, fy: focal lengths in pixels.
        cx, cy: principal point in pixels (top-left origin, v down).
        c2w: (4, 4) float64 camera-to-world, OpenGL axes (looks along -z, +y up).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    c2w: np.ndarray = field(repr=False)

    def __post_init__(self):
        c2w = np.asarray(self.c2w, dtype=np.float64)
        if c2w.shape == (3, 4):
            c2w = np.vstack([c2w, [0, 0, 0, 1]])
        if c2w.shape != (4, 4) or not np.all(np.isfinite(c2w)):
            raise RelightError(f"camera transform must be a finite 4x4 matrix, got shape {c2w.shape}")
        if self.width <= 0 or self.height <= 0 or self.fx <= 0 or self.fy <= 0:
            raise RelightError(f"camera needs positive size and focal length "
                               f"(w={self.width}, h={self.height}, fx={self.fx}, fy={self.fy})")
        object.__setattr__(self, "c2w", c2w)

    @staticmethod
    def from_fov(width: int, height: int, fov_x: float, c2w: np.ndarray) -> Camera:
        """Square-pixel camera with horizontal field of view ``fov_x`` (radians), centred."""
        fx = 0.5 * width / math.tan(0.5 * fov_x)
        return Camera(width, height, fx, fx, width / 2.0, height / 2.0, c2w)

    @property
    def fov_x(self) -> float:
        """Horizontal field of view in radians (for a centred principal point)."""
        return 2.0 * math.atan(0.5 * self.width / self.fx)

    @property
    def fov_y(self) -> float:
        """Vertical field of view in radians (for a centred principal point)."""
        return 2.0 * math.atan(0.5 * self.height / self.fy)

    @property
    def w2c(self) -> np.ndarray:
        return np.linalg.inv(self.c2w)

    @property
    def center(self) -> np.ndarray:
        return self.c2w[:3, 3].copy()

    def scaled(self, width: int, height: int) -> Camera:
        """The same camera at another resolution (intrinsics scaled)."""
        sx, sy = width / self.width, height / self.height
        return Camera(width, height, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, self.c2w)

    def downscaled(self, factor: int) -> Camera:
        """The camera of an image area-downscaled by an integer factor (cropped to a multiple)."""
        if factor == 1:
            return self
        f = float(factor)
        return Camera(self.width // factor, self.height // factor, self.fx / f, self.fy / f,
                      self.cx / f, self.cy / f, self.c2w)

    def K(self) -> np.ndarray:
        """3x3 intrinsics for camera coords with +y down, +z forward (OpenCV style)."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points (N, 3) to pixels (N, 2) ``(u, v)`` and depth (N,) along the view."""
        p = np.asarray(points, dtype=np.float64)
        pc = p @ self.w2c[:3, :3].T + self.w2c[:3, 3]
        depth = -pc[:, 2]
        u = self.fx * pc[:, 0] / depth + self.cx
        v = -self.fy * pc[:, 1] / depth + self.cy
        return np.stack([u, v], axis=-1), depth

    def pixel_matrix(self) -> np.ndarray:
        """3x4 ``P`` with ``P @ (x, y, z, 1) = (u d, v d, d)``: :meth:`project`'s pixels ``(u, v)``
        and depth ``d`` as one matrix product (for projecting millions of points)."""
        r, t = self.w2c[:3, :3], self.w2c[:3, 3]
        return np.vstack([np.r_[self.fx * r[0] - self.cx * r[2], self.fx * t[0] - self.cx * t[2]],
                          np.r_[-self.fy * r[1] - self.cy * r[2], -self.fy * t[1] - self.cy * t[2]],
                          np.r_[-r[2], -t[2]]])

    def pixel_rays(self, offsets: tuple[float, float] = (0.5, 0.5)) -> tuple[np.ndarray, np.ndarray]:
        """World-space ray origins (3,) and unit directions (H, W, 3) through each pixel.

        ``offsets`` is the sub-pixel position (0.5, 0.5 = pixel centre).
        """
        j, i = np.meshgrid(np.arange(self.height), np.arange(self.width), indexing="ij")
        x = (i + offsets[0] - self.cx) / self.fx
        y = -(j + offsets[1] - self.cy) / self.fy
        d = np.stack([x, y, -np.ones_like(x)], axis=-1) @ self.c2w[:3, :3].T
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        return self.center, d

    def projection(self, near: float = NEAR, far: float = FAR) -> np.ndarray:
        """4x4 OpenGL projection matrix (camera space -> clip space), see module docstring."""
        W, H = self.width, self.height
        return np.array([
            [2 * self.fx / W, 0, 1 - 2 * self.cx / W, 0],
            [0, 2 * self.fy / H, 2 * self.cy / H - 1, 0],
            [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
            [0, 0, -1, 0],
        ])

    def mvp(self, near: float = NEAR, far: float = FAR) -> np.ndarray:
        """4x4 world -> clip matrix, for rasterization (nvdiffrast or the CPU backend)."""
        return self.projection(near, far) @ self.w2c

    def c2w_mitsuba(self) -> np.ndarray:
        """Camera-to-world for Mitsuba's sensor axes (+z forward, +x left, +y up)."""
        return self.c2w @ GL_TO_MITSUBA

    def principal_point_offset(self) -> tuple[float, float]:
        """Mitsuba's ``principal_point_offset_{x,y}`` for this camera's (cx, cy)."""
        return 0.5 - self.cx / self.width, 0.5 - self.cy / self.height

    def check_square_pixels(self, tol: float = 1e-3) -> None:
        """Mitsuba's perspective sensor has one focal length: refuse fx != fy."""
        if abs(self.fx - self.fy) > tol * self.fx:
            raise RelightError(f"camera has non-square pixels (fx={self.fx:.3f}, fy={self.fy:.3f}), "
                               "which Mitsuba's perspective sensor cannot represent",
                               fix="resample the images to square pixels")


def look_at(eye, target=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """OpenGL camera-to-world (looks along -z) placed at ``eye`` and looking at ``target``."""
    eye, target, up = (np.asarray(a, dtype=np.float64) for a in (eye, target, up))
    back = eye - target
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    if np.linalg.norm(right) < 1e-8:  # looking straight along up: pick any perpendicular
        right = np.cross([1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 0.0, 1.0], back)
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, true_up, back, eye
    return c2w


def sphere_directions(n: int, hemisphere: bool = False, offset: float = 0.5,
                      up=(0.0, 1.0, 0.0), min_elevation_deg: float = 0.0) -> np.ndarray:
    """``n`` well-spread unit directions (Fibonacci lattice) around ``up``.

    ``hemisphere`` keeps directions with elevation >= ``min_elevation_deg``; ``offset`` shifts
    the lattice so two calls with different offsets give disjoint view sets (train vs test).
    """
    k = np.arange(n, dtype=np.float64) + offset
    golden = math.pi * (3.0 - math.sqrt(5.0))
    lo = math.sin(math.radians(min_elevation_deg)) if hemisphere else -1.0
    z = 1.0 - (k / n) * (1.0 - lo)  # from near the pole down to `lo`
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, 1.0))
    phi = golden * k
    local = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=-1)  # z = up
    up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    a = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = np.cross(up, a)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    return local[:, :1] * e1 + local[:, 1:2] * e2 + local[:, 2:] * up


def orbit_cameras(n: int, radius: float, fov_x_deg: float, width: int, height: int,
                  hemisphere: bool = False, offset: float = 0.5, up=(0.0, 1.0, 0.0),
                  target=(0.0, 0.0, 0.0), min_elevation_deg: float = 0.0) -> list[Camera]:
    """``n`` cameras on a sphere (or upper hemisphere) of ``radius`` looking at ``target``."""
    dirs = sphere_directions(n, hemisphere, offset, up, min_elevation_deg)
    target = np.asarray(target, dtype=np.float64)
    return [Camera.from_fov(width, height, math.radians(fov_x_deg),
                            look_at(target + radius * d, target, up)) for d in dirs]


def ring_cameras(mesh: Mesh, n: int, res: int, elevation_deg: float = 20.0, fov_deg: float = 40.0) -> list[Camera]:
    """``n`` cameras on a horizontal ring (``elevation_deg`` above the equator) framing ``mesh``."""
    lo, hi = mesh.bounds()
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


def pixel_size(cameras: list[Camera], center: np.ndarray) -> float:
    """World size of one pixel at ``center`` (3,), the median over ``cameras`` (their own
    resolution): distance to the camera divided by the focal length in pixels."""
    d = np.array([np.linalg.norm(c.center - center) / c.fx for c in cameras])
    return float(np.median(d))
