"""UV unwrapping with xatlas (used when a mesh arrives without texture coordinates)."""

from __future__ import annotations

import numpy as np
import xatlas
from scipy.ndimage import binary_dilation
from skimage.draw import polygon

from relight.data.camera import Camera, pixel_size
from relight.data.mesh import Mesh, face_areas, smooth_normals


def unwrap(mesh: Mesh, resolution: int = 1024, padding: int = 2) -> Mesh:
    """A copy of ``mesh`` with an xatlas atlas (vertices split at seams, normals kept smooth).

    ``resolution``/``padding`` tell xatlas the texture size it packs for, so charts keep
    ``padding`` texels between them at that size.
    """

    normals = mesh.normals if mesh.normals is not None else smooth_normals(mesh.vertices, mesh.faces)
    atlas = xatlas.Atlas()
    atlas.add_mesh(mesh.vertices, mesh.faces.astype(np.uint32), normals)
    pack = xatlas.PackOptions()
    pack.resolution = int(resolution)
    pack.padding = int(padding)
    pack.bilinear = True
    atlas.generate(pack_options=pack)
    vmap, faces, uvs = atlas[0]
    # xatlas puts v = 0 at the top of the atlas image; relight uses OBJ's v-up convention
    uvs = np.stack([uvs[:, 0], 1.0 - uvs[:, 1]], -1)
    return Mesh(mesh.vertices[vmap], faces.astype(np.int32), uvs, normals[vmap])


def texel_size(mesh: Mesh, res: int) -> float:
    """Mean side of a texel of ``mesh``'s atlas on the surface at texture side ``res``, in world
    units: ``sqrt(surface area / (atlas area in UV units · res²))`` (an atlas packs its charts at
    roughly one scale, so the mean stands for every chart)."""
    if mesh.uvs is None:
        raise ValueError("mesh has no UVs")
    t = mesh.uvs[mesh.faces]
    e1, e2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    uv_area = 0.5 * float(np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).sum())
    return float(np.sqrt(face_areas(mesh.vertices, mesh.faces).sum() / max(uv_area, 1e-12))) / res


def texture_side(mesh: Mesh, cameras: list[Camera], texel_px: float, lo: int, hi: int, multiple: int = 64) -> int:
    """The least texture side in ``[lo, hi]`` (a multiple of ``multiple`` once raised above ``lo``)
    whose texels (:func:`texel_size`) are at most ``texel_px`` pixels wide at the surface's
    median distance from ``cameras`` (:func:`relight.data.camera.pixel_size`, each camera at
    its own resolution: pass the images the stage trains on); ``lo`` when ``texel_px <= 0``."""
    if texel_px <= 0:
        return lo
    px = pixel_size(cameras, mesh.vertices.mean(0))
    need = texel_size(mesh, 1) / (texel_px * px)  # the side at which a texel is texel_px pixels wide
    if need <= lo:
        return lo
    return int(min(hi, multiple * np.ceil(need / multiple)))


def uv_coverage(mesh: Mesh, res: int, dilate: int = 1) -> np.ndarray:
    """(res, res) bool map of the texels a mesh's UV triangles cover, in the texture layout
    Mitsuba samples (row 0 = v = 1, OBJ v-up UVs), grown by ``dilate`` texels for the
    bilinear footprint. Texels outside it are never seen by any render.
    """

    if mesh.uvs is None:
        raise ValueError("mesh has no UVs")
    tri = mesh.uvs[mesh.faces]  # (F, 3, 2)
    rows = (1.0 - tri[..., 1]) * res - 0.5
    cols = tri[..., 0] * res - 0.5
    cover = np.zeros((res, res), bool)
    for r, c in zip(rows, cols, strict=True):
        rr, cc = polygon(r, c, shape=(res, res))
        cover[rr, cc] = True
    # slivers thinner than a texel cover no texel centre: mark every corner's texel too
    cover[np.clip(np.rint(rows).astype(int), 0, res - 1), np.clip(np.rint(cols).astype(int), 0, res - 1)] = True
    return binary_dilation(cover, iterations=dilate) if dilate > 0 else cover
