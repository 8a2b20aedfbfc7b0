"""UV unwrapping with xatlas (used when a mesh arrives without texture coordinates)."""

from __future__ import annotations

import numpy as np
import xatlas
from scipy.ndimage import binary_dilation
from skimage.draw import polygon

from relight.data.mesh import Mesh, smooth_normals


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
