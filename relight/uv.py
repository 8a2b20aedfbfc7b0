"""UV unwrapping with xatlas (used when a mesh arrives without texture coordinates)."""

from __future__ import annotations

import numpy as np

from relight.mesh import Mesh, smooth_normals


def unwrap(mesh: Mesh, resolution: int = 1024, padding: int = 2) -> Mesh:
    """A copy of ``mesh`` with an xatlas atlas (vertices split at seams, normals kept smooth).

    ``resolution``/``padding`` tell xatlas the texture size it packs for, so charts keep
    ``padding`` texels between them at that size.
    """
    import xatlas

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
