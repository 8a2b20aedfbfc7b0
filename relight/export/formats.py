"""``relight export``: an asset as glTF 2.0 binary (GLB) or OBJ + MTL, with the envmap beside it.

glTF PBR metallic-roughness mapping (glTF 2.0 spec, section 3.9):

* ``baseColorTexture`` — the albedo, **sRGB-encoded** 8-bit PNG (glTF requires sRGB here).
* ``metallicRoughnessTexture`` — linear 8-bit PNG, **G = roughness, B = metallic** (R unused,
  written as 255). glTF's roughness is the *perceptual* roughness with GGX ``alpha = r^2``,
  exactly Mitsuba's principled-BSDF ``roughness`` that relight optimizes, so values are copied
  as they are. ``metallicFactor = roughnessFactor = 1`` (the textures carry the values).
* UVs: relight stores OBJ-convention UVs (v up); glTF's v points down — trimesh flips on
  export and import, so a GLB reloaded through trimesh gives back relight's UVs.
* Units: scene units as metres (glTF's unit); +y up in both.

OBJ: ``map_Kd`` (sRGB albedo PNG) plus the PBR extension ``map_Pr`` / ``map_Pm`` (roughness /
metallic) that Blender's importer reads. MTL cannot say that a map is data, and Blender's
importer tags every image it loads as sRGB unless the file is float: an 8-bit roughness PNG
reaches the shader as ``srgb_to_linear(r)`` (0.5 -> 0.21). So roughness and metallic are written
as single-channel float EXR, which Blender reads as linear (the value as written). ``Ks 0.5``
is Blender's *Specular IOR Level* 0.5 = F0 0.04 for IOR 1.5, glTF's dielectric default and
Mitsuba's ``specular = 0.5`` (``Ks 0`` switches the specular lobe off). The envmap is written as linear EXR
``<name>_envmap.exr`` next to the model in both cases, in the equirect layout Blender and three.js
read as they are (:data:`relight.data.images.ENVMAP_PROJECTION`) with the asset's rotation baked
in, so it goes straight into Blender's Environment Texture or three.js's ``scene.environment``.
A GLB and an OBJ of one asset written under one name share that file (it is only refused when
it holds another envmap).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from relight.data.asset import Asset
from relight.data.images import (
    linear_to_srgb,
    read_exr,
    resize_area,
    rotate_equirect,
    write_exr,
    write_png,
)
from relight.data.mesh import write_obj
from relight.runtime.errors import RelightError

FORMATS = ("glb", "obj")


def _u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def metallic_roughness_image(asset: Asset) -> np.ndarray:
    """(H, W, 3) uint8 glTF metallicRoughness texture: R = 255, G = roughness, B = metallic."""
    r = asset.roughness
    m = asset.metallic if asset.metallic is not None else np.zeros_like(r)
    if m.shape != r.shape:

        m = resize_area(m[..., None], *r.shape)[..., 0]
    return np.stack([np.full(r.shape, 255, np.uint8), _u8(r), _u8(m)], -1)


def to_trimesh(asset: Asset):
    """A textured ``trimesh.Trimesh`` with a glTF PBR material."""

    mat = trimesh.visual.material.PBRMaterial(
        name="relight", baseColorTexture=Image.fromarray(_u8(linear_to_srgb(asset.albedo))),
        metallicRoughnessTexture=Image.fromarray(metallic_roughness_image(asset)),
        metallicFactor=1.0, roughnessFactor=1.0, doubleSided=False)
    mesh = asset.mesh.with_normals()
    vis = trimesh.visual.TextureVisuals(uv=mesh.uvs, material=mat)
    return trimesh.Trimesh(mesh.vertices, mesh.faces, vertex_normals=mesh.normals, visual=vis, process=False)


def export_asset(asset: Asset, out: Path, fmt: str | None = None, overwrite: bool = False) -> list[Path]:
    """Write ``asset`` as ``out`` (``.glb`` or ``.obj``) plus its envmap; returns the files written.

    Files are written into a temporary folder beside ``out`` and moved into place at the end, so
    a failure leaves nothing half-written.
    """
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise RelightError(f"unknown export format '{fmt}'", path=out, fix="use --format glb or obj (or a .glb/.obj name)")
    if out.suffix.lower() != f".{fmt}":
        out = out.with_name(out.name + f".{fmt}")
    stem = out.stem
    names = [out.name, f"{stem}_envmap.exr"]
    if fmt == "obj":
        names += [f"{stem}.mtl", f"{stem}_albedo.png", f"{stem}_roughness.exr"]
        if asset.metallic is not None:
            names.append(f"{stem}_metallic.exr")
    env = rotate_equirect(asset.envmap, asset.envmap_rotation_deg)
    shared = _same_envmap(out.parent / names[1], env)
    clash = [n for n in names if (out.parent / n).exists() and not (n == names[1] and shared)]
    if clash and not overwrite:
        raise RelightError(f"output exists: {clash[0]}", path=out.parent / clash[0], fix="pass --overwrite or another -o")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{stem}.tmp") as tmp_s:
        tmp = Path(tmp_s)
        write_exr(tmp / names[1], env)
        if fmt == "glb":
            to_trimesh(asset).export(tmp / out.name, file_type="glb")
        else:
            _write_obj(asset, tmp, stem)
        written = []
        for n in names:
            shutil.move(str(tmp / n), out.parent / n)
            written.append(out.parent / n)
    return written


def _same_envmap(path: Path, env: np.ndarray) -> bool:
    """Whether ``path`` already holds ``env`` (as written by another format's export)."""
    if not path.is_file():
        return False
    try:
        have = read_exr(path)
    except RelightError:
        return False
    return have.shape[:2] == env.shape[:2] and np.array_equal(have[..., :3], env[..., :3].astype(have.dtype))


def _write_obj(asset: Asset, folder: Path, stem: str) -> None:
    write_png(folder / f"{stem}_albedo.png", linear_to_srgb(asset.albedo))
    write_exr(folder / f"{stem}_roughness.exr", asset.roughness)
    lines = ["# written by relight: PBR extension (Pr/Pm) as read by Blender; roughness/metallic are",
             "# linear float EXR (data), Ks 0.5 = specular F0 0.04 (IOR 1.5) as in glTF",
             f"# envmap: {stem}_envmap.exr, equirect as Blender's Environment Texture reads it",
             "newmtl relight", "Kd 1 1 1", "Ks 0.5 0.5 0.5", "Ni 1.5", "Pr 1",
             "Pm 0" if asset.metallic is None else "Pm 1",
             f"map_Kd {stem}_albedo.png", f"map_Pr {stem}_roughness.exr"]
    if asset.metallic is not None:
        write_exr(folder / f"{stem}_metallic.exr", asset.metallic)
        lines.append(f"map_Pm {stem}_metallic.exr")
    (folder / f"{stem}.mtl").write_text("\n".join(lines) + "\n")
    write_obj(folder / f"{stem}.obj", asset.mesh.with_normals(), mtl=f"{stem}.mtl", material="relight")
