"""Geometry stage: a watertight triangle mesh from a capture's masks and images.

1. **Initialization** — the masks' visual hull (:mod:`relight.geometry.hull`), photo-carved where
   its voxels' colours disagree across the views (``carve``: :mod:`relight.geometry.carving`, the
   concavities no silhouette reveals), marching cubes.
2. **Refinement** — vertex positions, reparameterized with Large Steps (:mod:`relight.geometry.largesteps`),
   and per-vertex colours are fitted to random view batches through differentiable rasterization
   (:mod:`relight.geometry.raster`: nvdiffrast on CUDA, the CPU backend otherwise). Losses: silhouette
   (anti-aliased coverage vs. mask, squared error) and photometric (view-independent per-vertex
   colour vs. the sRGB-encoded image, L1) — multi-view photo-consistency pulls in concavities
   that silhouettes cannot see. With ``shading`` the colour is shaded at the vertex normal by a
   fitted low-frequency light (:func:`relight.geometry.losses.sh_shading`) and kept piecewise flat
   (``w_colour_tv``), so shading informs the normals (shape from shading). Vertices whose colour
   is not consistent across views (metal, gloss: the residual stays large) are down-weighted in the photometric term
   (:func:`relight.geometry.losses.consistency_weights`), so reflections do not dent them. On
   8-bit photos each view's colour factor is fitted too (``view_gains``): auto-exposure and white
   balance are the camera's, not the surface's.
3. **Remeshing** — coarse to fine: each level doubles the image resolution, and the mesh is
   rebuilt isotropically (:mod:`relight.geometry.remesh`) with a target edge length of ``remesh_edge_px``
   pixels of that level (under ``max_faces``), so its resolution follows the images'; with
   ``remesh_edge_px = 0`` it is midpoint-subdivided instead.

Remeshing and subdivision keep a closed manifold closed (checked), so the output stays watertight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from relight.data.camera import pixel_size
from relight.data.capture import Capture
from relight.data.images import linear_to_srgb, resize_area
from relight.data.mesh import Mesh, face_areas
from relight.geometry.carving import photo_carve
from relight.geometry.config import GeometryConfig
from relight.geometry.draw import render_views
from relight.geometry.hull import hull_occupancy, occupancy_mesh, visual_hull
from relight.geometry.losses import (
    edge_tv,
    photometric_loss,
    sh_shading,
    silhouette_loss,
    vertex_normals,
)
from relight.geometry.raster import Raster
from relight.geometry.remesh import remesh, shading_normals, subdivide, taubin
from relight.geometry.state import GeometryState, load_checkpoint, restore_state, save_checkpoint
from relight.runtime.errors import require_finite
from relight.runtime.loop import Schedule, run_loop
from relight.runtime.progress import Reporter

CONSISTENCY_DECAY = 0.98
"""Decay per step of the photo-consistency sums (about 50 steps of memory: a few views per step,
so each vertex is judged over a few hundred observations while the mesh moves)."""


@dataclass(frozen=True)
class GeometryResult:
    mesh: Mesh
    """The refined mesh (:func:`result_mesh`: its shading normals per ``normal_smoothing``), no UVs."""
    colors: np.ndarray
    """(V, 3) per-vertex sRGB colour fitted with the shape (a view-independent appearance; with
    ``shading``, the fitted colour shaded by the fitted light at the vertex normal)."""
    losses: list[float]
    seconds: float
    seconds_per_step: float
    hull_faces: int
    photo_weights: np.ndarray | None = None
    """(V,) each vertex's photo-consistency weight at the end (1: its colour agrees across views;
    near 0: view-dependent, left to the silhouettes); None when the weighting is off."""
    view_gains: np.ndarray | None = None
    """(N, C) each view's fitted factor on the sRGB colour (``view_gains``; log mean 0 over the
    views; C = 1 or 3); None when off."""


def result_mesh(verts: np.ndarray, faces: np.ndarray, cfg: GeometryConfig) -> Mesh:
    """The stage's output mesh from refined positions: shading normals per ``cfg.normal_smoothing``
    (:func:`relight.geometry.remesh.shading_normals`), for a fit and for a resumed finished stage alike."""
    return Mesh(verts, faces, normals=shading_normals(verts, faces, cfg.normal_smoothing))


@dataclass
class _Level:
    images: np.ndarray  # (N, H, W, 3) sRGB, float16 (packed: converted a batch at a time)
    masks: np.ndarray  # (N, H, W) coverage, float16
    mvps: torch.Tensor  # (N, 4, 4)
    res: tuple[int, int]
    cameras: list  # the capture's cameras at this level's resolution
    device: torch.device

    def batch(self, views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sRGB images (B, H, W, 3), coverage (B, H, W)) of ``views``, float32 on the device."""
        idx = views.cpu().numpy()
        t = dict(device=self.device, dtype=torch.float32)
        return torch.from_numpy(self.images[idx]).to(**t), torch.from_numpy(self.masks[idx]).to(**t)


def _level_data(capture: Capture, cfg: GeometryConfig, level: int, device) -> _Level:
    """The level's views, area-resized one at a time from the capture (which may be on disk)."""
    h, w = capture.resolution
    scale = min(1.0, cfg.image_res / max(h, w)) / 2 ** (cfg.levels - 1 - level)
    hs, ws = max(8, round(h * scale)), max(8, round(w * scale))
    imgs = np.empty((len(capture), hs, ws, 3), np.float16)
    masks = np.empty((len(capture), hs, ws), np.float16)
    for i in range(len(capture)):
        imgs[i] = linear_to_srgb(np.clip(resize_area(capture.images[i], hs, ws), 0, 1))
        masks[i] = resize_area(capture.masks[i][..., None], hs, ws)[..., 0]
    cams = [c.scaled(ws, hs) for c in capture.cameras]
    mvps = np.stack([c.mvp() for c in cams])
    return _Level(imgs, masks, torch.tensor(mvps, device=device, dtype=torch.float32), (hs, ws), cams, device)


def _resample(v: np.ndarray, f: np.ndarray, c: np.ndarray, cfg: GeometryConfig, data: _Level):
    """The mesh for a new level: isotropic remesh to ``remesh_edge_px``
    pixels of ``data``'s images, kept under ``max_faces``; or midpoint subdivision when
    remeshing is off."""
    if cfg.remesh_edge_px <= 0:
        return subdivide(v, f, c) if len(f) * 4 <= cfg.max_faces else (v, f, c)
    area = face_areas(v, f).sum()
    h_min = np.sqrt(4 * area / (np.sqrt(3) * cfg.max_faces))  # equilateral faces of side h: A / (sqrt(3)/4 h^2)
    edge = max(cfg.remesh_edge_px * pixel_size(data.cameras, v.mean(0)), h_min)
    return remesh(v, f, c, edge)


def _carry_consistency(old: GeometryState, new: GeometryState) -> None:
    """Give the remeshed level's vertices the photo-consistency sums of the nearest vertex of the
    last level (they describe the surface, not the vertex), so the weighting needs no new warm-up."""
    from scipy.spatial import cKDTree

    with torch.no_grad():
        _, j = cKDTree(old.verts().cpu().numpy()).query(new.verts().cpu().numpy())
        idx = torch.as_tensor(j, device=old.err.device)
        new.err.copy_(old.err[idx])
        new.obs.copy_(old.obs[idx])
        new.sh.copy_(old.sh)  # the light is the scene's: it carries over whole
        new.g.copy_(old.g)  # and the views' exposures are the photos'
    new.steps = old.steps


class _GeometryFit:
    """The geometry stage's side of :func:`relight.runtime.loop.run_loop`: its step and state."""

    name = "geometry"

    def __init__(self, capture: Capture, cfg: GeometryConfig, raster: Raster, st: GeometryState, level: int,
                 data: _Level, inputs: dict | None):
        self.capture, self.cfg, self.raster, self.inputs = capture, cfg, raster, inputs
        self.st, self.level, self.data = st, level, data
        self.inconsistent = 0.0
        """Share of the vertices whose photo-consistency weight was < 0.5 in the last step."""

    def enter_level(self, level: int) -> None:
        if level != self.level:  # next level: its images, and the mesh remeshed to its pixels
            self.level, self.data = level, _level_data(self.capture, self.cfg, level, self.raster.device)
            old = self.st
            self.st = GeometryState(*_resample(*old.numpy(), self.cfg, self.data), self.cfg, self.raster,
                                    tuple(old.g.shape))
            _carry_consistency(old, self.st)

    def step(self, step: int, rng: np.random.Generator, lr_scale: float) -> float:
        cfg, st, data = self.cfg, self.st, self.data
        views = torch.tensor(rng.choice(len(self.capture), min(cfg.batch_views, len(self.capture)), replace=False))
        images, masks = data.batch(views)
        track = cfg.photo_consistency > 0
        verts = st.verts()
        # the colour, shaded at the vertices (Gouraud: at 2-px edges as good as per pixel, and no
        # extra channels to interpolate)
        attrs = [st.c * sh_shading(vertex_normals(verts, st.faces), st.sh) if cfg.shading else st.c]
        if track:  # two extra channels: the vertices' photo-consistency weights (constant) and
            # zeros whose gradients collect each vertex's residual statistics (their value adds
            # nothing to the loss)
            probe = torch.zeros(len(st.c), 2, device=st.c.device, requires_grad=True)
            w = st.photo_weights(cfg)
            self.inconsistent = float((w < 0.5).float().mean())
            attrs += [w[:, None], probe]
        out, cov = render_views(self.raster, verts, st.faces, torch.cat(attrs, 1), data.mvps[views], data.res,
                                cfg.supersample, st.topology)
        rgb, weight = out[..., :3] * st.view_factors(views), None
        if track:  # the weight channel is blended with the empty background at silhouettes like
            # colour and coverage are: divided by the coverage, an edge pixel gets its surface's weight
            weight = torch.where(cov > 1e-4, out[..., 3] / cov.clamp_min(1e-4), 1.0).detach()
        loss = cfg.w_mask * silhouette_loss(cov, masks) + cfg.w_rgb * photometric_loss(rgb, images, weight)
        if cfg.w_colour_tv > 0:
            loss = loss + cfg.w_colour_tv * edge_tv(st.c, st.edges) / masks.numel()  # per pixel, as the data
        if track:
            sq = ((rgb.detach() - images) ** 2).mean(-1) * masks
            loss = loss + (sq * out[..., 4]).sum() + (masks * out[..., 5]).sum()
        st.opt_u.zero_grad()
        st.opt_c.zero_grad()
        st.opt_sh.zero_grad()
        st.opt_g.zero_grad()
        loss.backward()
        if track:
            with torch.no_grad():  # running sums, a memory of about 1 / (1 - CONSISTENCY_DECAY) steps
                st.err.mul_(CONSISTENCY_DECAY).add_(probe.grad[:, 0])
                st.obs.mul_(CONSISTENCY_DECAY).add_(probe.grad[:, 1])
        st.steps += 1
        st.opt_u.param_groups[0]["lr"] = cfg.lr * lr_scale
        st.opt_u.step()
        st.opt_c.step()
        if cfg.shading:
            st.opt_sh.step()
        if st.g.numel():
            st.opt_g.step()
        return float(loss.detach())

    def progress(self) -> dict:
        return {"faces": len(self.st.faces_np), "inconsistent": f"{self.inconsistent:.1%}"}

    def save_checkpoint(self, path: Path, step: int, level: int, losses: list[float]) -> None:
        save_checkpoint(path, step, level, losses, self.st, self.cfg, self.inputs)


def gain_shape(cfg: GeometryConfig, capture: Capture) -> tuple[int, int]:
    """(views, channels) of the per-view colour factors ``cfg.view_gains`` asks for on ``capture``
    (:meth:`relight.data.capture.Capture.view_gain_mode`); (0, 0) when off."""
    mode = capture.view_gain_mode(cfg.view_gains)
    return {"off": (0, 0), "exposure": (len(capture), 1), "exposure_wb": (len(capture), 3)}[mode]


def _initial_mesh(capture: Capture, cfg: GeometryConfig, rep: Reporter) -> Mesh:
    """The visual hull, photo-carved when ``cfg.carve`` is on."""
    if cfg.carve <= 0:
        return visual_hull(capture, cfg.hull_res)
    hull, lo, hi = hull_occupancy(capture, cfg.hull_res)
    occ, st = photo_carve(capture, hull > 0.5, lo, hi, pct=cfg.carve)
    rep.log(f"photo-carving: {st.carved} of {int((hull > 0.5).sum())} hull voxels removed in {st.passes} "
            f"passes ({st.restored} kept for the silhouettes, {st.undone} refilled)")
    return occupancy_mesh(occ, lo, hi)


def fit_geometry(capture: Capture, cfg: GeometryConfig, raster: Raster, *, checkpoint_dir: Path | None = None,
                 resume: bool = False, reporter: Reporter | None = None, stop_at: int | None = None,
                 init: Mesh | None = None, inputs: dict | None = None) -> GeometryResult:
    """Fit a mesh to ``capture`` (masks required) with the raster context ``raster``.

    ``inputs`` (:func:`relight.runtime.fingerprint.run_fingerprint`) is recorded in checkpoints, and
    a resume from a checkpoint written for other inputs is refused.

    ``init`` replaces the visual hull as the starting mesh. ``stop_at`` ends after that many
    steps as an interruption would (checkpoint written), for ``resume=True`` to continue.
    """
    rep = reporter or Reporter()
    t0 = time.perf_counter()
    ck = load_checkpoint(checkpoint_dir, cfg, inputs) if resume and checkpoint_dir is not None else None
    if ck is not None:
        verts, faces, colors, step, level, losses = ck.verts, ck.faces, ck.colors, ck.step, ck.level, ck.losses
        hull_faces = -1
    else:
        mesh = init if init is not None else _initial_mesh(capture, cfg, rep)
        verts, faces = taubin(mesh.vertices, mesh.faces, cfg.smooth_init), mesh.faces
        colors = np.full((len(verts), 3), 0.5, np.float32)
        step, level, losses = 0, 0, []
        hull_faces = len(faces)
    data = _level_data(capture, cfg, level, raster.device)
    if ck is None:
        if cfg.remesh_edge_px > 0:  # the hull is remeshed, never subdivided
            verts, faces, colors = _resample(verts, faces, colors, cfg, data)
        rep.log(f"initial mesh: {len(verts)} vertices, {len(faces)} faces")
    st = GeometryState(verts, faces, colors, cfg, raster, gain_shape(cfg, capture))
    if ck is not None:
        restore_state(st, ck)
    stage = _GeometryFit(capture, cfg, raster, st, level, data, inputs)
    loop = run_loop(stage, Schedule.of(cfg), step=step, level=level, losses=losses, checkpoint_dir=checkpoint_dir,
                    stop_at=stop_at, reporter=rep)
    v, f, _ = stage.st.numpy()
    c = stage.st.appearance()
    v = taubin(v, f, cfg.smooth_final)
    require_finite({"vertices": v, "colours": c}, "geometry",
                   "lower lr or raise lam in a --config TOML, and check the masks and camera poses")
    weights = stage.st.photo_weights(cfg).cpu().numpy() if cfg.photo_consistency > 0 else None
    return GeometryResult(result_mesh(v, f, cfg), c, losses, time.perf_counter() - t0, loop.seconds_per_step,
                          hull_faces, weights, stage.st.gains_numpy())
