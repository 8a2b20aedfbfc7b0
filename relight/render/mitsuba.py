"""Mitsuba 3 scene construction and path-traced rendering of an :class:`~relight.data.asset.Asset`.

All Mitsuba access goes through a :class:`~relight.runtime.backend.Backend` (which sets the variant).
Images are linear RGBA float32 (H, W, 4), row 0 = top, RGB premultiplied by coverage: the
environment is hidden from camera rays (``hide_emitters``), so the background is black with
alpha 0, exactly like a masked photograph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from relight.data.asset import Asset
from relight.data.camera import Camera
from relight.data.mesh import Mesh
from relight.render.textures import sample_bilinear
from relight.runtime.backend import Backend

RENDER_DEPTH = 8
"""Default path length of relighting renders (``relight render``, report previews): enough bounces
that inter-reflections are converged; fits use their own, shorter ``max_depth``."""

# Keys of the differentiable parameters in ``mi.traverse`` of a :func:`build_scene` scene.
KA, KR, KM, KE = "object.bsdf.base_color.data", "object.bsdf.roughness.data", "object.bsdf.metallic.data", "light.data"


def mitsuba_mesh(mi, mesh: Mesh, bsdf=None, name: str = "object"):
    """An in-memory ``mi.Mesh`` (positions, faces, normals, UVs flipped to Mitsuba's v-down)."""
    mesh = mesh.with_normals()
    props = mi.Properties()
    if bsdf is not None:
        props["bsdf"] = bsdf
    has_uv = mesh.uvs is not None
    m = mi.Mesh(name, len(mesh.vertices), len(mesh.faces), props=props,
                has_vertex_normals=True, has_vertex_texcoords=has_uv)
    params = mi.traverse(m)
    params["vertex_positions"] = mi.Float(mesh.vertices.ravel())
    params["faces"] = mi.UInt32(mesh.faces.astype(np.uint32).ravel())
    params["vertex_normals"] = mi.Float(mesh.normals.ravel())
    if has_uv:
        uv = np.stack([mesh.uvs[:, 0], 1.0 - mesh.uvs[:, 1]], axis=-1)
        params["vertex_texcoords"] = mi.Float(uv.astype(np.float32).ravel())
    params.update()
    return m


def mi_tensor(a: np.ndarray):
    """A ``mi.TensorXf`` of the current variant from a numpy array."""
    import mitsuba as mi  # only once the backend has pinned libLLVM (relight.runtime.backend)

    return mi.TensorXf(np.ascontiguousarray(a, dtype=np.float32))


def bitmap_texture(tex: np.ndarray) -> dict:
    """A float ``bitmap`` texture dict (float data stays differentiable; 8-bit would not)."""
    data = np.ascontiguousarray(tex if tex.ndim == 3 else tex[..., None], dtype=np.float32)
    return {"type": "bitmap", "data": mi_tensor(data), "raw": True, "filter_type": "bilinear", "wrap_mode": "repeat"}


def bsdf_dict(asset: Asset) -> dict:
    """Mitsuba principled BSDF with the asset's textures (specular 0.5 = IOR 1.5)."""
    d = {"type": "principled", "base_color": bitmap_texture(asset.albedo),
         "roughness": bitmap_texture(asset.roughness), "specular": 0.5}
    d["metallic"] = bitmap_texture(asset.metallic) if asset.metallic is not None else 0.0
    return d


MITSUBA_TO_EQUIRECT_DEG = 90.0
"""Turn about +y taking Mitsuba's lat-long layout to :data:`~relight.data.images.ENVMAP_PROJECTION`."""


def envmap_dict(mi, envmap: np.ndarray, rotation_deg: float = 0.0) -> dict:
    """Emitter of ``envmap`` (laid out in :data:`relight.data.images.ENVMAP_PROJECTION`), turned
    about world +y by ``rotation_deg``. The fixed extra 90 degrees make Mitsuba, whose image centre
    looks along +z, read the Blender / three.js layout (centre along +x): the one place where
    Mitsuba's envmap layout appears."""
    bmp = mi.Bitmap(np.ascontiguousarray(envmap[..., :3], dtype=np.float32))
    return {"type": "envmap", "bitmap": bmp, "to_world": light_transform(mi, rotation_deg)}


def light_transform(mi, rotation_deg: float):
    """The envmap emitter's ``to_world`` for a turn of ``rotation_deg`` about +y (see :func:`envmap_dict`)."""
    return mi.ScalarTransform4f().rotate(axis=[0, 1, 0], angle=float(rotation_deg) + MITSUBA_TO_EQUIRECT_DEG)


def turn_light(backend: Backend, params, rotation_deg: float) -> None:
    """Set the envmap's turn about +y in a traversed scene (``params = mi.traverse(scene)``):
    the per-view light of a turntable capture (:attr:`relight.data.capture.Capture.light_turns_deg`)."""
    params["light.to_world"] = light_transform(backend.mitsuba(), rotation_deg)
    params.update()


def build_scene(backend: Backend, asset: Asset, max_depth: int = RENDER_DEPTH, integrator: str = "path"):
    """The Mitsuba scene of ``asset`` lit by its envmap, with a ``path``-family integrator."""
    mi = backend.mitsuba()
    bsdf = mi.load_dict(bsdf_dict(asset))
    return mi.load_dict({
        "type": "scene",
        "integrator": {"type": integrator, "max_depth": int(max_depth), "hide_emitters": True},
        "object": mitsuba_mesh(mi, asset.mesh, bsdf),
        "light": envmap_dict(mi, asset.envmap, asset.envmap_rotation_deg),
    })


def sensor(backend: Backend, cam: Camera, spp: int = 16, pixel_format: str = "rgba"):
    """A Mitsuba perspective sensor equal to ``cam`` (box filter, RGBA or RGB film)."""
    mi = backend.mitsuba()
    cam.check_square_pixels()
    ppx, ppy = cam.principal_point_offset()
    return mi.load_dict({
        "type": "perspective", "fov": float(np.degrees(cam.fov_x)), "fov_axis": "x",
        "principal_point_offset_x": ppx, "principal_point_offset_y": ppy,
        "near_clip": 1e-3, "far_clip": 1e4,
        "to_world": mi.ScalarTransform4f(cam.c2w_mitsuba()),
        "sampler": {"type": "independent", "sample_count": int(spp)},
        "film": {"type": "hdrfilm", "width": cam.width, "height": cam.height,
                 "pixel_format": pixel_format, "rfilter": {"type": "box"}},
    })


PASS_SEED_STRIDE = 7919
"""Seeds of a view's extra sample passes: ``(seed + view) * stride + pass`` (a prime, so no pass
of one view reuses another view's seed for any realistic view count)."""


def render_views(backend: Backend, scene, cameras: Sequence[Camera], spp: int, seed: int = 0,
                 on_view: Callable[[int, np.ndarray], None] | None = None, passes: int = 1,
                 light_deg: Sequence[float] | None = None, keep: bool = True) -> np.ndarray | None:
    """Path-trace every camera; returns (N, H, W, 4) linear premultiplied RGBA (None with
    ``keep=False``: the views only go to ``on_view``, so a large set is never held whole).

    ``on_view(i, rgba)`` is called after each view (progress, streaming writes). ``passes > 1``
    splits the samples of a view into that many renders with distinct seeds, averaged by sample
    count (the memory guard's tiling in sample space, see :mod:`relight.runtime.resources`).
    ``light_deg``: the envmap's turn about +y for each view (a turntable capture's light), which
    replaces the scene's own.
    """
    mi = backend.mitsuba()
    params = mi.traverse(scene) if light_deg is not None else None
    out = []
    chunks = [len(c) for c in np.array_split(np.arange(int(spp)), max(1, min(int(passes), int(spp))))]
    for i, cam in enumerate(cameras):
        if params is not None:
            turn_light(backend, params, light_deg[i])
        acc = 0.0
        for k, n in enumerate(chunks):
            s = seed + i if k == 0 else (seed + i) * PASS_SEED_STRIDE + k  # one pass = the plain render
            acc = acc + np.array(mi.render(scene, sensor=sensor(backend, cam, n), spp=n, seed=s),
                                 dtype=np.float32) * (n / spp)
        rgba = np.asarray(acc, dtype=np.float32)
        rgba = np.nan_to_num(rgba, nan=0.0, posinf=0.0, neginf=0.0)
        if keep:
            out.append(rgba)
        if on_view is not None:
            on_view(i, rgba)
    return np.stack(out) if keep else None


def _surface_at_pixel_centres(backend: Backend, scene, cam: Camera, offsets=(0.5, 0.5)):
    """Ray cast through each pixel centre (or ``offsets`` within the pixel) of ``cam``:
    ``(si, uv (N, 2) OBJ convention, hit (N,))``."""
    mi = backend.mitsuba()
    origin, dirs = cam.pixel_rays(offsets)
    d = dirs.reshape(-1, 3).astype(np.float32)
    o = np.broadcast_to(origin.astype(np.float32), d.shape)
    ray = mi.Ray3f(mi.Point3f(*[mi.Float(np.ascontiguousarray(o[:, k])) for k in range(3)]),
                   mi.Vector3f(*[mi.Float(np.ascontiguousarray(d[:, k])) for k in range(3)]))
    si = scene.ray_intersect(ray)
    hit = np.array(si.is_valid()).astype(np.float32)
    uv_mi = _rows(si.uv, len(d), 2)
    uv = np.stack([uv_mi[:, 0], 1.0 - uv_mi[:, 1]], -1) * hit[:, None]
    return si, uv.astype(np.float32), hit


def _rows(a, n: int, c: int) -> np.ndarray:
    a = np.array(a, dtype=np.float32)
    return a.reshape(n, c) if a.shape == (n, c) else a.T


def pixel_uv(backend: Backend, scene, cam: Camera, offsets=(0.5, 0.5)) -> tuple[np.ndarray, np.ndarray]:
    """OBJ-convention UVs (H, W, 2) of the surface seen at each pixel centre (or at ``offsets``
    within each pixel), and ``hit`` (H, W) in {0, 1} (UV 0 where nothing is hit). Ray cast, no noise."""
    _, uv, hit = _surface_at_pixel_centres(backend, scene, cam, offsets)
    return uv.reshape(cam.height, cam.width, 2), hit.reshape(cam.height, cam.width)


def surface_aovs(backend: Backend, scene, asset: Asset, cam: Camera) -> dict[str, np.ndarray]:
    """Ground-truth AOVs at pixel centres by ray casting (no noise, no filtering).

    Returns float32 ``albedo`` (H, W, 3) linear, ``roughness`` (H, W), ``normals`` (H, W, 3)
    world-space shading normals, ``hit`` (H, W) in {0, 1}; zero where nothing is hit; and
    ``metallic`` (H, W) when the asset has a metallic texture.
    """
    si, uv, hit = _surface_at_pixel_centres(backend, scene, cam)
    h, w = cam.height, cam.width
    nrm = _rows(si.sh_frame.n, h * w, 3)
    m = hit[:, None]
    albedo = sample_bilinear(asset.albedo, uv) * m
    rough = sample_bilinear(asset.roughness, uv)[:, 0] * hit
    out = {"albedo": albedo.reshape(h, w, 3), "roughness": rough.reshape(h, w),
           "normals": np.nan_to_num(nrm * m).reshape(h, w, 3), "hit": hit.reshape(h, w)}
    if asset.metallic is not None:
        out["metallic"] = (sample_bilinear(asset.metallic, uv)[:, 0] * hit).reshape(h, w)
    return out
