"""Geometry stage: a watertight triangle mesh from a capture's masks and images.

1. **Initialization** — the masks' visual hull (:mod:`relight.hull`), marching cubes.
2. **Refinement** — vertex positions, reparameterized with Large Steps (:mod:`relight.largesteps`),
   and per-vertex colours are fitted to random view batches through differentiable rasterization
   (:mod:`relight.raster`: nvdiffrast on CUDA, the CPU backend otherwise). Losses: silhouette
   (anti-aliased coverage vs. mask, squared error) and photometric (view-independent per-vertex
   colour vs. the sRGB-encoded image, L1) — multi-view photo-consistency pulls in concavities
   that silhouettes cannot see.
3. **Remeshing** — coarse to fine: each level doubles the image resolution, and the mesh is
   rebuilt isotropically (:mod:`relight.remesh`) with a target edge length of ``remesh_edge_px``
   pixels of that level (under ``max_faces``), so its resolution follows the images'; with
   ``remesh_edge_px = 0`` it is midpoint-subdivided instead.

Remeshing and subdivision keep a closed manifold closed (checked), so the output stays watertight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from relight.capture import Capture
from relight.config import load_preset
from relight.geometry_state import GeometryState, load_checkpoint, restore_state, save_checkpoint
from relight.hull import visual_hull
from relight.interrupt import Interrupted, graceful_stop
from relight.io.images import linear_to_srgb, resize_area
from relight.mesh import Mesh, face_areas
from relight.optim import level_of
from relight.progress import Reporter
from relight.raster import flip_y
from relight.remesh import pixel_size, remesh, subdivide, taubin


@dataclass(frozen=True)
class GeometryConfig:
    """Settings of :func:`fit_geometry` (TOML-loadable; presets in :data:`PRESETS`)."""

    hull_res: int = 64
    """Voxel grid resolution of the visual hull (per axis, inside the object's bounding box)."""
    smooth_init: int = 0
    """Taubin smoothing iterations (trimesh, lambda/mu, little shrinkage) of the initial mesh,
    against the voxel terraces of the marching-cubes hull, which Large Steps would otherwise keep
    (its updates are smooth, the start is not). On spot 20 iterations did not help (normal MAE
    4.86 -> 4.98 deg): the ripple comes from the refinement, not the hull."""
    smooth_final: int = 0
    """Taubin smoothing iterations of the refined mesh. It removes the ripple left in the normals
    (spot: 5 iterations, normal MAE 4.86 -> 4.06 deg, Chamfer 0.142 -> 0.122 %) but thins ears and
    horns at the silhouette (mask IoU 0.988 -> 0.985), which costs relighting more than the
    normals gain (the mesh with GT textures: relight 27.4 -> 24.6 dB), so it is off by default."""
    iterations: int = 800
    """Refinement steps over all levels."""
    levels: int = 2
    """Coarse-to-fine levels: each halves the image resolution of the next; the mesh is
    remeshed at each level start (``remesh_edge_px``) or subdivided between levels."""
    level_split: list[float] = field(default_factory=lambda: [0.5, 0.5])
    """Share of the iterations per level, coarse first (normalised)."""
    batch_views: int = 4
    """Views rasterized per step."""
    image_res: int = 256
    """Longest image side at the finest level (the capture is area-downscaled to it, never
    upscaled)."""
    max_faces: int = 60000
    """Upper bound of the mesh's faces: remeshing lengthens its target edge to stay under it,
    midpoint subdivision is skipped when it would exceed it."""
    remesh_edge_px: float = 0.0
    """Target edge length of the isotropic remesh at the start of each level, in pixels of that
    level's images (0 = no remeshing: midpoint subdivision between levels)."""
    lam: float = 20.0
    """Large Steps smoothness: ``u = (I + lam L) x``; larger = smoother, stiffer updates."""
    lr: float = 1e-2
    """Step size on the differential coordinates (world units, roughly per step)."""
    lr_decay: float = 1.0
    """Final step size as a fraction of ``lr`` (exponential decay over all steps; 1 = constant).
    On spot 0.1 was worse (normal MAE 4.86 -> 5.08 deg): the stage is still converging at the end
    (1600 steps: 4.65 deg), so decay costs more progress than it removes jitter."""
    lr_color: float = 2e-2
    w_mask: float = 1.0
    """Weight of the silhouette loss (mean squared coverage error)."""
    w_rgb: float = 0.5
    """Weight of the photometric loss (mean L1 on sRGB-encoded colour)."""
    supersample: int = 1
    """Rasterize at this many times the level's resolution and box-average (see
    :func:`render_views`): sub-pixel silhouettes matched as area coverage."""
    seed: int = 0
    checkpoint_every: int = 50

    def __post_init__(self):
        checks = [("hull_res", 16 <= self.hull_res <= 512), ("iterations", self.iterations >= 0),
                  ("smooth_init", 0 <= self.smooth_init <= 1000), ("smooth_final", 0 <= self.smooth_final <= 1000),
                  ("levels", 1 <= self.levels <= 5), ("batch_views", self.batch_views >= 1),
                  ("image_res", 16 <= self.image_res <= 4096), ("max_faces", self.max_faces >= 100),
                  ("remesh_edge_px", 0 <= self.remesh_edge_px <= 100),
                  ("lam", self.lam >= 0), ("lr", self.lr > 0), ("lr_decay", 0 < self.lr_decay <= 1), ("lr_color", self.lr_color >= 0),
                  ("w_mask", self.w_mask >= 0), ("w_rgb", self.w_rgb >= 0),
                  ("supersample", 1 <= self.supersample <= 8)]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"{name} is out of range ({getattr(self, name)})")
        if not self.level_split or min(self.level_split) <= 0:
            raise ValueError("level_split needs positive shares")


PRESETS: dict[str, GeometryConfig] = {
    # spot, 64 views at 256² (bench/bench_geometry_ceiling.py, results/geometry_ceiling.md): the
    # remesh (2 px edges) and 2x supersampled coverage took the mesh's relight ceiling from
    # 29.74 to 30.67 dB (normal MAE 4.02 -> 2.97 deg) for 2-3x the time (59 -> 177 s)
    "fast": GeometryConfig(remesh_edge_px=2.0, supersample=2),
    "quality": GeometryConfig(hull_res=128, iterations=2000, levels=3, level_split=[0.3, 0.3, 0.4],
                              batch_views=8, image_res=512, max_faces=200000, remesh_edge_px=2.0,
                              supersample=2),
}


def load_config(preset: str = "fast", toml: str | Path | None = None, **over) -> GeometryConfig:
    """A preset, updated by a TOML file's keys and then by keyword overrides (None ignored)."""
    return load_preset(GeometryConfig, PRESETS, preset, toml, **over)


@dataclass(frozen=True)
class GeometryResult:
    mesh: Mesh
    """The refined mesh, with smooth vertex normals, no UVs."""
    colors: np.ndarray
    """(V, 3) per-vertex sRGB colour fitted with the shape (a view-independent appearance)."""
    losses: list[float]
    seconds: float
    seconds_per_step: float
    hull_faces: int


def silhouette_loss(coverage: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error of anti-aliased coverage (B, H, W) against mask coverage, both in [0, 1]."""
    return torch.mean((coverage - mask) ** 2)


def photometric_loss(rgb: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 of (B, H, W, 3) sRGB-encoded colours (background black in both)."""
    return torch.mean(torch.abs(rgb - target))


def render_views(raster, verts: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor,
                 mvps: torch.Tensor, res: tuple[int, int], supersample: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Anti-aliased (B, H, W, 3) colour and (B, H, W) coverage, image layout (row 0 = top).

    ``verts`` (V, 3) world, ``colors`` (V, 3), ``mvps`` (B, 4, 4) world -> clip (OpenGL; clip
    space does not depend on the resolution). ``supersample`` k > 1 rasterizes at (kH, kW) and
    box-averages k x k blocks: the pixel's area coverage, as a box-filtered photo's alpha is,
    which the analytic antialiasing alone only approximates.
    """
    hom = torch.cat([verts, torch.ones_like(verts[:, :1])], 1)
    pos = torch.einsum("vk,bjk->bvj", hom, mvps).contiguous()
    k = int(supersample)
    rast, _ = raster.rasterize(pos, faces, (res[0] * k, res[1] * k))
    col, _ = raster.interpolate(colors, rast, faces)
    cov = (rast[..., 3:4] > 0).to(col.dtype)
    out = flip_y(raster.antialias(torch.cat([col, cov], -1), rast, pos, faces))
    if k > 1:
        out = torch.nn.functional.avg_pool2d(out.permute(0, 3, 1, 2), k).permute(0, 2, 3, 1)
    return out[..., :3], out[..., 3]


@dataclass
class _Level:
    images: torch.Tensor  # (N, H, W, 3) sRGB
    masks: torch.Tensor  # (N, H, W)
    mvps: torch.Tensor  # (N, 4, 4)
    res: tuple[int, int]
    cameras: list  # the capture's cameras at this level's resolution


def _level_data(capture: Capture, cfg: GeometryConfig, level: int, device) -> _Level:
    h, w = capture.resolution
    scale = min(1.0, cfg.image_res / max(h, w)) / 2 ** (cfg.levels - 1 - level)
    hs, ws = max(8, round(h * scale)), max(8, round(w * scale))
    imgs = np.stack([resize_area(im, hs, ws) for im in capture.images])
    masks = np.stack([resize_area(m[..., None], hs, ws)[..., 0] for m in capture.masks])
    cams = [c.scaled(ws, hs) for c in capture.cameras]
    mvps = np.stack([c.mvp() for c in cams])
    t = dict(device=device, dtype=torch.float32)
    return _Level(torch.tensor(linear_to_srgb(np.clip(imgs, 0, 1)), **t), torch.tensor(masks, **t),
                  torch.tensor(mvps, **t), (hs, ws), cams)


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


def _level_of(step: int, cfg: GeometryConfig) -> int:
    return level_of(step, cfg.iterations, cfg.levels, cfg.level_split)


def fit_geometry(capture: Capture, cfg: GeometryConfig, raster, *, checkpoint_dir: Path | None = None,
                 resume: bool = False, reporter: Reporter | None = None, stop_at: int | None = None,
                 init: Mesh | None = None) -> GeometryResult:
    """Fit a mesh to ``capture`` (masks required) with the raster context ``raster``.

    ``init`` replaces the visual hull as the starting mesh. ``stop_at`` ends after that many
    steps as an interruption would (checkpoint written), for ``resume=True`` to continue.
    """
    rep = reporter or Reporter()
    device = getattr(raster, "device", torch.device("cpu"))
    t0 = time.perf_counter()
    ck = load_checkpoint(checkpoint_dir, cfg) if resume and checkpoint_dir is not None else None
    if ck is not None:
        verts, faces, colors, step, level, losses = ck.verts, ck.faces, ck.colors, ck.step, ck.level, ck.losses
        hull_faces = -1
    else:
        mesh = init if init is not None else visual_hull(capture, cfg.hull_res)
        verts, faces = taubin(mesh.vertices, mesh.faces, cfg.smooth_init), mesh.faces
        colors = np.full((len(verts), 3), 0.5, np.float32)
        step, level, losses = 0, 0, []
        hull_faces = len(faces)
    data = _level_data(capture, cfg, level, device)
    if ck is None:
        if cfg.remesh_edge_px > 0:
            verts, faces, colors = _resample(verts, faces, colors, cfg, data)
        rep.log(f"initial mesh: {len(verts)} vertices, {len(faces)} faces")
    st = GeometryState(verts, faces, colors, cfg, device)
    if ck is not None:
        restore_state(st, ck)
    rng = np.random.default_rng(cfg.seed)
    times = []
    with rep.task("geometry", cfg.iterations) as advance, graceful_stop() as stop:
        advance(step)
        while step < min(cfg.iterations, stop_at or cfg.iterations):
            ts = time.perf_counter()
            new_level = _level_of(step, cfg)
            if new_level != level:
                level, data = new_level, _level_data(capture, cfg, new_level, device)
                st = GeometryState(*_resample(*st.numpy(), cfg, data), cfg, device)
            rng = np.random.default_rng([cfg.seed, step])
            views = torch.tensor(rng.choice(len(capture), min(cfg.batch_views, len(capture)), replace=False))
            x = st.verts()
            rgb, cov = render_views(raster, x, st.faces, st.c, data.mvps[views], data.res, cfg.supersample)
            loss = cfg.w_mask * silhouette_loss(cov, data.masks[views]) \
                + cfg.w_rgb * photometric_loss(rgb, data.images[views])
            st.opt_u.zero_grad()
            st.opt_c.zero_grad()
            loss.backward()
            st.opt_u.param_groups[0]["lr"] = cfg.lr * cfg.lr_decay ** (step / max(cfg.iterations - 1, 1))
            st.opt_u.step()
            st.opt_c.step()
            step += 1
            losses.append(float(loss.detach()))
            times.append((level, time.perf_counter() - ts))
            advance(1, loss=f"{losses[-1]:.4f}", level=level, faces=len(st.faces_np))
            periodic = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
            if checkpoint_dir and (periodic or stop.requested):  # Ctrl-C / SIGTERM: checkpoint, then stop
                save_checkpoint(checkpoint_dir, step, level, losses, st, cfg)
            if stop.requested:
                raise Interrupted("geometry", step, cfg.iterations, checkpoint_dir)
    if checkpoint_dir and cfg.checkpoint_every:
        save_checkpoint(checkpoint_dir, step, level, losses, st, cfg)
    v, f, c = st.numpy()
    v = taubin(v, f, cfg.smooth_final)
    finest = [t for lv, t in times if lv == cfg.levels - 1]
    return GeometryResult(Mesh(v, f).with_normals(), c, losses, time.perf_counter() - t0,
                          float(np.median(finest)) if finest else 0.0, hull_faces)
