"""Triangle meshes: the :class:`Mesh` type, loading (trimesh), OBJ writing, normals.

UV convention: OBJ/OpenGL — ``(u, v)`` in [0, 1] with v pointing **up** (v = 0 is the bottom
row of the texture image). Textures are stored with row 0 = top, so texel row = (1 - v) * H.
Mitsuba uses v down; :mod:`relight.render.mitsuba` flips at that boundary only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from relight.runtime.errors import RelightError

MAX_FACES = 5_000_000
MAX_COORD = 1e6
"""Largest vertex coordinate accepted: relight's scenes are a few units across, and float32
rasterization and path tracing lose all precision far beyond that."""


@dataclass(frozen=True)
class Mesh:
    """Triangle mesh.

    Attributes:
        vertices: (V, 3) float32 positions, world units.
        faces: (F, 3) int32 vertex indices, counter-clockwise = front.
        uvs: (V, 2) float32 texture coordinates (OBJ convention) or None.
        normals: (V, 3) float32 unit shading normals or None.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray | None = None
    normals: np.ndarray | None = None

    def __post_init__(self):
        object.__setattr__(self, "vertices", np.ascontiguousarray(self.vertices, dtype=np.float32))
        object.__setattr__(self, "faces", np.ascontiguousarray(self.faces, dtype=np.int32))
        for k in ("uvs", "normals"):
            v = getattr(self, k)
            if v is not None:
                object.__setattr__(self, k, np.ascontiguousarray(v, dtype=np.float32))

    def with_normals(self) -> Mesh:
        """A copy with smooth normals (computed if missing)."""
        if self.normals is not None:
            return self
        return Mesh(self.vertices, self.faces, self.uvs, smooth_normals(self.vertices, self.faces))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.vertices.min(0), self.vertices.max(0)

    def normalized(self, radius: float) -> Mesh:
        """Centred on its bounding-box centre and scaled so it fits a sphere of ``radius``."""
        lo, hi = self.bounds()
        c = 0.5 * (lo + hi)
        r = float(np.linalg.norm(self.vertices - c, axis=1).max())
        return Mesh((self.vertices - c) * (radius / r), self.faces, self.uvs, self.normals)

    def rotated_y(self, deg: float) -> Mesh:
        """Rotated about +y by ``deg`` degrees (right-handed)."""
        R = rotation_y(deg).astype(np.float32)
        n = None if self.normals is None else self.normals @ R.T
        return Mesh(self.vertices @ R.T, self.faces, self.uvs, n)


def rotation_y(deg: float) -> np.ndarray:
    """(3, 3) right-handed rotation about +y by ``deg`` degrees (float64)."""
    t = np.radians(deg)
    return np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) triangle areas, in float64."""
    v = np.asarray(vertices, dtype=np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def weld(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices at equal positions (to 1e-6: the copies a UV atlas makes along its seams) as one.

    Returns ``(first, inv)``: ``first`` (W,) the index of each welded vertex's first copy, ``inv``
    (V,) each vertex's welded index, so ``vertices[first][inv]`` gives the positions back."""
    v = np.asarray(vertices, dtype=np.float64)
    _, first, inv = np.unique(np.round(v, 6), axis=0, return_index=True, return_inverse=True)
    return first, inv.reshape(-1)


def smooth_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, shared across UV seams (vertices :func:`weld` makes one)."""
    v = np.asarray(vertices, dtype=np.float64)
    _, inv = weld(v)
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    acc = np.zeros((inv.max() + 1, 3))
    for k in range(3):
        np.add.at(acc, inv[faces[:, k]], fn)
    n = acc[inv]
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(ln > 1e-20, n / np.maximum(ln, 1e-20), [0.0, 1.0, 0.0])
    return n.astype(np.float32)


def validate_mesh(mesh: Mesh, path: str | Path | None = None) -> Mesh:
    """Refuse empty, face-less, non-finite, non-manifold or absurdly large meshes with a one-line
    error; drop faces with a repeated vertex index."""
    if len(mesh.vertices) == 0 or len(mesh.faces) == 0:
        raise RelightError("mesh has no vertices or no faces", path=path, fix="export a triangle mesh with faces")
    if len(mesh.faces) > MAX_FACES:
        raise RelightError(f"mesh has {len(mesh.faces)} faces (limit {MAX_FACES})", path=path,
                           fix="decimate it first")
    if not np.all(np.isfinite(mesh.vertices)):
        raise RelightError("mesh has NaN/Inf vertex positions", path=path, fix="repair the mesh")
    if mesh.faces.min() < 0 or mesh.faces.max() >= len(mesh.vertices):
        raise RelightError("mesh faces index missing vertices", path=path, fix="repair the mesh")
    if mesh.uvs is not None and not np.all(np.isfinite(mesh.uvs)):
        raise RelightError("mesh has NaN/Inf texture coordinates", path=path, fix="re-unwrap the mesh")
    f = mesh.faces
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])
    if not keep.all():  # faces with a repeated vertex have no area: dropping them changes nothing
        if not keep.any():
            raise RelightError("every face of the mesh is degenerate", path=path, fix="export a triangle mesh with faces")
        mesh = Mesh(mesh.vertices, f[keep], mesh.uvs, mesh.normals)
    if np.abs(mesh.vertices).max() > MAX_COORD:
        raise RelightError(f"mesh coordinates reach {np.abs(mesh.vertices).max():.3g} (limit {MAX_COORD:.0e})",
                           path=path, fix="scale the mesh to the capture's units (an object a few units across)")
    if face_areas(mesh.vertices.astype(np.float64), mesh.faces).sum() <= 0:
        raise RelightError("the mesh has no surface area (every face is flat to a line or a point)", path=path,
                           fix="export a mesh with real faces")
    bad = non_manifold_edges(mesh.faces)
    if bad:
        raise RelightError(f"mesh is non-manifold ({bad} edges are shared by more than two faces)", path=path,
                           fix="repair it (e.g. Blender: Select > All by Trait > Non Manifold; or MeshLab)")
    return mesh


def unique_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) int64 undirected edges of a triangle mesh, each once (lower vertex index first)."""
    f = np.asarray(faces, dtype=np.int64)
    return np.unique(np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1), axis=0)


def non_manifold_edges(faces: np.ndarray) -> int:
    """Number of (undirected, by vertex index) edges used by more than two faces."""
    f = np.asarray(faces, dtype=np.int64)
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(e[:, 0] * (int(f.max()) + 1) + e[:, 1], return_counts=True)
    return int((counts > 2).sum())


def load_mesh(path: str | Path) -> Mesh:
    """Load OBJ/PLY/GLB/… with trimesh (vertices split at UV seams, order kept)."""

    path = Path(path)
    if not path.is_file():
        raise RelightError("mesh file not found", path=path, fix="check the path")
    if path.suffix.lower() == ".obj":  # binary garbage would reach trimesh's charset sniffing
        with open(path, "rb") as f:
            head = f.read(4096)
        if head and (b"\0" in head or not _decodes(head)):
            raise RelightError("cannot read mesh (not a text OBJ file)", path=path,
                               fix="check it is a valid OBJ/PLY/GLB triangle mesh")
    try:
        tm = trimesh.load(str(path), force="mesh", process=False)
    except Exception as e:  # trimesh raises many types for bad files
        raise RelightError(f"cannot read mesh ({type(e).__name__}: {str(e)[:80]})", path=path,
                           fix="check it is a valid OBJ/PLY/GLB triangle mesh") from None
    if not isinstance(tm, trimesh.Trimesh):
        raise RelightError("file holds no triangle mesh", path=path, fix="export a triangle mesh")
    uv = getattr(tm.visual, "uv", None)
    uv = None if uv is None or len(uv) != len(tm.vertices) else np.asarray(uv)
    mesh = Mesh(np.asarray(tm.vertices), np.asarray(tm.faces), uv)
    return validate_mesh(mesh, path)


def _decodes(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError as e:  # a multi-byte character cut by the 4 KiB window is fine
        return e.start >= len(b) - 4


def write_obj(path: str | Path, mesh: Mesh, mtl: str | None = None, material: str | None = None) -> None:
    """Write ``v``/``vt``/``vn``/``f`` lines (UVs and normals indexed like vertices)."""
    lines = ["# written by relight"]
    if mtl:
        lines.append(f"mtllib {mtl}")
    lines += [f"v {x:.7g} {y:.7g} {z:.7g}" for x, y, z in mesh.vertices]
    if mesh.uvs is not None:
        lines += [f"vt {u:.7g} {v:.7g}" for u, v in mesh.uvs]
    if mesh.normals is not None:
        lines += [f"vn {x:.6g} {y:.6g} {z:.6g}" for x, y, z in mesh.normals]
    if material:
        lines.append(f"usemtl {material}")
    f = mesh.faces + 1
    if mesh.uvs is not None and mesh.normals is not None:
        lines += [f"f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}" for a, b, c in f]
    elif mesh.uvs is not None:
        lines += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in f]
    elif mesh.normals is not None:
        lines += [f"f {a}//{a} {b}//{b} {c}//{c}" for a, b, c in f]
    else:
        lines += [f"f {a} {b} {c}" for a, b, c in f]
    Path(path).write_text("\n".join(lines) + "\n")
