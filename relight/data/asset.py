"""The :class:`Asset`: a relightable object (mesh + PBR textures + HDR environment map) and
its on-disk folder format.

Folder layout (``asset.json`` is the manifest; EXR files are authoritative, PNGs are previews
and export helpers)::

    asset.json        format version, files, colour spaces, units, config, metrics
    mesh.obj          positions (scene units), UVs (OBJ convention, v up), normals
    albedo.exr/.png   base colour: EXR linear RGB, PNG sRGB-encoded
    roughness.exr/.png  principled roughness (Mitsuba/glTF convention, alpha = r^2), linear data
    metallic.exr/.png   optional, linear data
    envmap.exr        linear equirect radiance in Blender / three.js layout (centre = +x, +y up;
                      ``relight.data.images.ENVMAP_PROJECTION``), turned about +y by rotation_deg

Assets written before the layout change say ``"projection": "latlong (mitsuba, +y up)"``; they
load with their rotation reduced by 90 degrees, which renders them exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from relight.data.images import (
    ENVMAP_PROJECTION,
    LEGACY_ENVMAP_PROJECTION,
    linear_to_srgb,
    read_envmap,
    read_exr,
    turn_equirect,
    write_exr,
    write_png,
)
from relight.data.mesh import Mesh, load_mesh, rotation_y, validate_mesh, write_obj
from relight.runtime.errors import RelightError
from relight.runtime.paths import is_finite_number, read_json, resolve_inside, write_json

ASSET_FORMAT = 1


@dataclass(frozen=True)
class Asset:
    """A decomposed, relightable object.

    Attributes:
        mesh: geometry with UVs (required for textures).
        albedo: (H, W, 3) float32 linear base colour in [0, 1], row 0 = top (v = 1).
        roughness: (H, W) float32 in [0, 1] (principled BSDF / glTF convention).
        metallic: (H, W) float32 in [0, 1], or None for a dielectric.
        envmap: (He, 2He, 3) float32 linear radiance, Mitsuba lat-long convention.
        envmap_rotation_deg: rotation of the envmap about world +y, degrees.
        info: free-form JSON-able provenance (config, metrics) kept in the manifest.
    """

    mesh: Mesh
    albedo: np.ndarray
    roughness: np.ndarray
    envmap: np.ndarray
    metallic: np.ndarray | None = None
    envmap_rotation_deg: float = 0.0
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.mesh.uvs is None:
            raise ValueError("Asset mesh needs UVs for its textures")
        if self.albedo.ndim != 3 or self.albedo.shape[-1] != 3:
            raise ValueError(f"albedo must be (H, W, 3), got {self.albedo.shape}")
        if self.roughness.ndim != 2:
            raise ValueError(f"roughness must be (H, W), got {self.roughness.shape}")

    def with_envmap(self, envmap: np.ndarray, rotation_deg: float = 0.0) -> Asset:
        return replace(self, envmap=envmap, envmap_rotation_deg=rotation_deg)

    def transformed(self, sim: np.ndarray) -> Asset:
        """The asset moved by the similarity ``sim`` (4, 4; ``x -> s R x + t``): mesh, normals and
        the light turned with it (its turn about +y baked in), e.g. into a ground-truth frame."""
        sim = np.asarray(sim, np.float64)
        s = float(np.cbrt(np.linalg.det(sim[:3, :3])))
        rot = sim[:3, :3] / s
        m = self.mesh
        n = None if m.normals is None else (m.normals @ rot.T).astype(np.float32)
        mesh = Mesh((m.vertices @ (s * rot).T + sim[:3, 3]).astype(np.float32), m.faces, m.uvs, n)
        env = turn_equirect(self.envmap, rot @ rotation_y(self.envmap_rotation_deg))
        return replace(self, mesh=mesh, envmap=env, envmap_rotation_deg=0.0)


def save_asset(asset: Asset, folder: str | Path, extra: dict | None = None) -> Path:
    """Write ``asset`` into ``folder`` (created) and return the manifest path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_obj(folder / "mesh.obj", asset.mesh.with_normals())
    write_exr(folder / "albedo.exr", asset.albedo)
    write_png(folder / "albedo.png", linear_to_srgb(asset.albedo))
    write_exr(folder / "roughness.exr", asset.roughness)
    write_png(folder / "roughness.png", asset.roughness)
    files = {
        "mesh": {"path": "mesh.obj", "uv_convention": "obj (v up)"},
        "albedo": {"path": "albedo.exr", "preview": "albedo.png", "colorspace": "linear",
                   "preview_colorspace": "srgb"},
        "roughness": {"path": "roughness.exr", "preview": "roughness.png", "colorspace": "data"},
        "envmap": {"path": "envmap.exr", "colorspace": "linear", "projection": ENVMAP_PROJECTION,
                   "rotation_deg": asset.envmap_rotation_deg},
    }
    if asset.metallic is not None:
        write_exr(folder / "metallic.exr", asset.metallic)
        write_png(folder / "metallic.png", asset.metallic)
        files["metallic"] = {"path": "metallic.exr", "preview": "metallic.png", "colorspace": "data"}
    write_exr(folder / "envmap.exr", asset.envmap)
    manifest = {"format": "relight-asset", "format_version": ASSET_FORMAT, "units": "scene units",
                "bsdf": "mitsuba principled (roughness convention: alpha = roughness^2)",
                "files": files, "info": {**asset.info, **(extra or {})}}
    write_json(folder / "asset.json", manifest)
    return folder / "asset.json"


def load_asset(folder: str | Path) -> Asset:
    """Read an asset folder written by :func:`save_asset`."""
    folder = Path(folder)
    mpath = folder / "asset.json" if folder.is_dir() else folder
    folder = mpath.parent
    m = read_json(mpath)
    if not isinstance(m, dict) or m.get("format") != "relight-asset":
        raise RelightError("not a relight asset manifest", path=mpath, fix="pass a folder written by relight")
    ver = m.get("format_version")
    if isinstance(ver, bool) or not isinstance(ver, int) or ver < 1:
        raise RelightError(f"invalid asset format_version {ver!r}", path=mpath, fix="re-export the asset")
    if ver > ASSET_FORMAT:
        raise RelightError(f"asset format version {ver!r} is newer than this relight supports ({ASSET_FORMAT})",
                           path=mpath, fix="upgrade relight")
    files = m.get("files")
    if not isinstance(files, dict):
        raise RelightError("manifest has no 'files' table", path=mpath, fix="re-export the asset")
    for key in ("mesh", "albedo", "roughness", "envmap"):
        if key not in files:
            raise RelightError(f"manifest lists no '{key}' file", path=mpath, fix="re-export the asset")
    for key in ("mesh", "albedo", "roughness", "envmap", "metallic"):
        if key in files and not (isinstance(files[key], dict) and isinstance(files[key].get("path"), str)):
            raise RelightError(f"manifest entry '{key}' has no 'path' string", path=mpath, fix="re-export the asset")
    rot = files["envmap"].get("rotation_deg", 0.0)
    if not is_finite_number(rot):
        raise RelightError(f"envmap rotation_deg must be a finite number, got {rot!r}", path=mpath,
                           fix="write the rotation in degrees")
    proj = files["envmap"].get("projection", ENVMAP_PROJECTION)
    if proj not in (ENVMAP_PROJECTION, LEGACY_ENVMAP_PROJECTION):
        raise RelightError(f"unknown envmap projection {proj!r}", path=mpath,
                           fix=f"write the envmap in the {ENVMAP_PROJECTION!r} layout")
    if proj == LEGACY_ENVMAP_PROJECTION:
        rot = float(rot) - 90.0  # Mitsuba's layout is the equirect one turned by +90 degrees about +y
    info = m.get("info", {})
    if not isinstance(info, dict):
        raise RelightError("manifest 'info' must be a table", path=mpath, fix="re-export the asset")

    def p(key):
        return resolve_inside(folder, files[key]["path"], f"{key} path", mpath)

    mesh = load_mesh(p("mesh"))
    if mesh.uvs is None:
        raise RelightError("asset mesh has no UVs", path=p("mesh"), fix="re-export the asset")
    mesh = validate_mesh(mesh.with_normals(), p("mesh"))
    albedo = read_exr(p("albedo"))[..., :3]
    rough = read_exr(p("roughness"))[..., 0]
    metal = read_exr(p("metallic"))[..., 0] if "metallic" in files else None
    env = read_envmap(p("envmap"))
    if albedo.shape[-1] != 3:
        raise RelightError(f"albedo texture has {albedo.shape[-1]} channel(s), expected RGB", path=p("albedo"),
                           fix="re-export the asset")
    for name, arr in (("albedo", albedo), ("roughness", rough), ("metallic", metal)):
        if arr is not None and not np.all(np.isfinite(arr)):
            raise RelightError(f"{name} texture has NaN/Inf values", path=p(name), fix="re-export the asset")
    return Asset(mesh, np.clip(albedo, 0, 1), np.clip(rough, 0, 1), env,
                 None if metal is None else np.clip(metal, 0, 1),
                 float(rot), info)
