"""Scene descriptions (TOML) for ``relight synth``: mesh, materials, lighting, camera rig.

Example (``scenes/spot.toml``)::

    name = "spot"
    [mesh]
    file = "spot/spot.obj"          # relative to this TOML; or builtin = "torus_knot"
    radius = 0.9                    # normalise: centre and fit a sphere of this radius
    [material]
    albedo = { type = "file", file = "spot/spot_texture.png" }
    roughness = { type = "noise", colors = [[0.25], [0.75]], scale = 6, seed = 3 }
    [light]
    envmap = "envmaps/courtyard.exr"
    rotation_deg = 0.0
    relight = [{ envmap = "envmaps/forest.exr" }, { envmap = "envmaps/studio.exr", rotation_deg = 90 }]
    [cameras]
    views = 64
    test_views = 8

World frame: +y up; envmaps in the equirect layout of Blender / three.js / HDRI sites
(``relight.data.images.ENVMAP_PROJECTION``); cameras orbit the origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from relight.data.asset import Asset
from relight.data.camera import Camera, orbit_cameras
from relight.data.images import read_envmap
from relight.data.mesh import load_mesh, validate_mesh
from relight.render.shapes import BUILTIN_SHAPES
from relight.render.textures import TextureSpec, make_texture
from relight.runtime.config import from_dict, read_toml
from relight.runtime.errors import RelightError

SCENES_DIR = Path(__file__).resolve().parents[2] / "scenes"
BUILTIN_ENVMAPS = SCENES_DIR / "envmaps"
"""The CC0 HDRIs shipped with relight (``scenes/envmaps/*.exr``)."""
DEFAULT_SCENE = "spot"


@dataclass(frozen=True)
class MeshSpec:
    """Geometry of a scene.

    Attributes:
        file: mesh file relative to the TOML (OBJ/PLY/GLB with UVs).
        builtin: name of a procedural shape instead of a file (``torus_knot``).
        radius: centre the mesh and scale it to fit a sphere of this radius (0 = keep as is).
        rotate_y_deg: rotation about +y applied after normalisation, degrees.
    """

    file: str | None = None
    builtin: str | None = None
    radius: float = 0.9
    rotate_y_deg: float = 0.0

    def __post_init__(self):
        if (self.file is None) == (self.builtin is None):
            raise ValueError("give exactly one of file = '...' or builtin = '...'")
        if self.builtin is not None and self.builtin not in BUILTIN_SHAPES:
            raise ValueError(f"unknown builtin shape '{self.builtin}' (have: {', '.join(BUILTIN_SHAPES)})")
        if self.radius < 0:
            raise ValueError("radius must be >= 0")


@dataclass(frozen=True)
class MaterialSpec:
    """Principled-BSDF textures (linear values; PNG colour files decoded from sRGB)."""

    albedo: TextureSpec = field(default_factory=lambda: TextureSpec(value=[0.5]))
    roughness: TextureSpec = field(default_factory=lambda: TextureSpec(value=[0.5]))
    metallic: TextureSpec | None = None


@dataclass(frozen=True)
class RelightSpec:
    """One extra lighting for relighting ground truth."""

    envmap: str
    rotation_deg: float = 0.0


@dataclass(frozen=True)
class LightSpec:
    """Training lighting and the relighting set.

    Attributes:
        envmap: lat-long HDR (.exr/.hdr) relative to the TOML.
        rotation_deg: rotation of the envmap about +y, degrees.
        relight: other envmaps under which the test views are also rendered.
    """

    envmap: str
    rotation_deg: float = 0.0
    relight: list[RelightSpec] = field(default_factory=list)


@dataclass(frozen=True)
class CameraSpec:
    """The camera rig.

    Attributes:
        views: number of training views (Fibonacci lattice).
        test_views: number of held-out test views (a shifted lattice, disjoint from training).
        layout: ``sphere`` or ``hemisphere`` (above the horizon, for objects on a ground).
        min_elevation_deg: lowest elevation in ``hemisphere`` layout.
        radius: camera distance from the origin, scene units.
        fov_deg: horizontal field of view, degrees.
        res: image width = height, pixels.
        spp: samples per pixel of the path tracer for training views.
        test_spp: samples per pixel of the test and relit views (the evaluation references,
            rendered cleaner so that metrics measure the asset, not Monte Carlo noise).
        max_depth: path length limit (bounces + 1); > 2 gives inter-reflections.
        seed: base seed of the renderer's sampler.
    """

    views: int = 64
    test_views: int = 8
    layout: str = "sphere"
    min_elevation_deg: float = 5.0
    radius: float = 3.2
    fov_deg: float = 40.0
    res: int = 256
    spp: int = 64
    test_spp: int = 256
    max_depth: int = 6
    seed: int = 0

    def __post_init__(self):
        if self.layout not in ("sphere", "hemisphere"):
            raise ValueError(f"layout must be 'sphere' or 'hemisphere', got '{self.layout}'")
        for k, lo, hi in (("views", 1, 10000), ("test_views", 0, 10000), ("res", 8, 8192),
                          ("spp", 1, 1 << 16), ("test_spp", 1, 1 << 16), ("max_depth", 1, 64)):
            if not lo <= getattr(self, k) <= hi:
                raise ValueError(f"{k} must be in [{lo}, {hi}], got {getattr(self, k)}")
        if not 1.0 <= self.fov_deg <= 170.0:
            raise ValueError(f"fov_deg must be in [1, 170], got {self.fov_deg}")
        if self.radius <= 0:
            raise ValueError("radius must be > 0")


@dataclass(frozen=True)
class SceneSpec:
    """A complete scene description (see the module docstring for the TOML form)."""

    name: str
    mesh: MeshSpec
    light: LightSpec
    material: MaterialSpec = field(default_factory=MaterialSpec)
    cameras: CameraSpec = field(default_factory=CameraSpec)
    description: str = ""
    base: Path = field(default=Path("."), compare=False)

    def train_cameras(self) -> list[Camera]:
        c = self.cameras
        return orbit_cameras(c.views, c.radius, c.fov_deg, c.res, c.res, c.layout == "hemisphere",
                             offset=0.5, min_elevation_deg=c.min_elevation_deg)

    def test_cameras(self) -> list[Camera]:
        c = self.cameras
        if c.test_views == 0:
            return []
        # a lattice with another offset and count interleaves with (never repeats) the training one
        return orbit_cameras(c.test_views, c.radius, c.fov_deg, c.res, c.res, c.layout == "hemisphere",
                             offset=0.25, min_elevation_deg=c.min_elevation_deg)

    def with_overrides(self, **kw) -> SceneSpec:
        """Replace camera-rig fields (``res``, ``views``, ``spp``, ...) that are not None."""
        kw = {k: v for k, v in kw.items() if v is not None}
        try:
            return replace(self, cameras=replace(self.cameras, **kw)) if kw else self
        except ValueError as e:
            raise RelightError(f"bad override: {e}", fix="use a value in the documented range") from None

    def resolve(self, rel: str) -> Path:
        return (self.base / rel).resolve()

    def build_asset(self) -> Asset:
        """The ground-truth :class:`Asset` (mesh, textures, training envmap)."""
        if self.mesh.builtin:
            mesh = BUILTIN_SHAPES[self.mesh.builtin]()
        else:
            mesh = load_mesh(self.resolve(self.mesh.file))
            if mesh.uvs is None:
                raise RelightError("scene mesh has no UVs", path=self.resolve(self.mesh.file),
                                   fix="use a mesh with texture coordinates")
        if self.mesh.radius > 0:
            mesh = mesh.normalized(self.mesh.radius)
        if self.mesh.rotate_y_deg:
            mesh = mesh.rotated_y(self.mesh.rotate_y_deg)
        mesh = validate_mesh(mesh.with_normals())
        m = self.material
        albedo = np.clip(make_texture(m.albedo, 3, self.base), 0, 1)
        rough = np.clip(make_texture(m.roughness, 1, self.base)[..., 0], 0, 1)
        metal = None if m.metallic is None else np.clip(make_texture(m.metallic, 1, self.base)[..., 0], 0, 1)
        env = read_envmap(self.resolve(self.light.envmap))
        return Asset(mesh, albedo, rough, env, metal, self.light.rotation_deg, {"scene": self.name})


def list_scenes() -> list[str]:
    return sorted(p.stem for p in SCENES_DIR.glob("*.toml"))


def load_scene(name_or_path: str | Path) -> SceneSpec:
    """A built-in scene by name (``spot``) or a scene TOML by path."""
    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        p = SCENES_DIR / f"{name_or_path}.toml"
        if not p.is_file():
            raise RelightError(f"unknown scene '{name_or_path}'",
                               fix=f"use one of: {', '.join(list_scenes())}, or a path to a .toml")
    data = read_toml(p)
    spec = from_dict(SceneSpec, {"name": p.stem, **data}, p)
    spec = replace(spec, base=p.parent.resolve())
    for rel in [spec.light.envmap] + [r.envmap for r in spec.light.relight]:
        if not spec.resolve(rel).is_file():
            raise RelightError(f"envmap '{rel}' not found", path=p, fix="fix the path (relative to the TOML)")
    if spec.mesh.file and not spec.resolve(spec.mesh.file).is_file():
        raise RelightError(f"mesh '{spec.mesh.file}' not found", path=p, fix="fix the path (relative to the TOML)")
    return spec
