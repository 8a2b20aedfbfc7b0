"""Settings of the geometry stage: :class:`GeometryConfig` and its :data:`PRESETS`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from relight.runtime.config import load_preset


@dataclass(frozen=True)
class GeometryConfig:
    """Settings of :func:`fit_geometry` (TOML-loadable; presets in :data:`PRESETS`)."""

    hull_res: int = 64
    """Voxel grid resolution of the visual hull (per axis, inside the object's bounding box)."""
    carve: float = 95.0
    """Photo-consistency carving of the visual hull before the refinement
    (:func:`relight.geometry.carving.photo_carve`; 0 = off): surface voxels whose colour spread
    across the views that see them (over the darker half of those views, each sampled at the pixel
    of the voxel's footprint that best matches its colour) exceeds this percentile of the spread of
    the rim voxels (on a mask edge in a view that sees them: they touch the true surface) are
    removed, layer by layer, except where that would uncover a mask pixel; a carved region whose
    exposed floor is not clearly consistent (view-dependent material) is refilled. On the knot it
    opens filled crevices (genus 7 -> 6, hull vertices off the true surface 7.9 -> 5.4 %) and the
    fitted mesh's normal MAE falls 3.94 -> 3.6 deg; on spot, blob, vase, bottle and the armadillo
    it removes 7-25 voxels of 5-13 k (``results/carving.md``)."""
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
    normal_smoothing: int = 0
    """Taubin iterations (:func:`relight.geometry.remesh.shading_normals`) of a copy of the refined
    mesh whose vertex normals become the asset's shading normals; the positions stay (0 = the
    mesh's own normals). Off by default: on the five suite fits 5 iterations took the normal MAE
    from 2.87 / 4.07 / 3.61 / 2.01 / 3.08 deg (spot, knot, blob, vase, bottle) to 2.52 / 3.34 /
    3.00 / 1.54 / 2.51, but on an object outside the repository with fine surface detail (the
    Stanford bunny) from 9.55 to 10.30 (2 iterations: 9.80): it helps smooth objects whose mesh
    ripples, and removes real detail (results/normal_smoothing.md)."""
    iterations: int = 800
    """Refinement steps over all levels."""
    levels: int = 2
    """Coarse-to-fine levels: each halves the image resolution of the next; the mesh is
    remeshed at each level start (``remesh_edge_px``) or subdivided between levels."""
    level_split: list[float] = field(default_factory=lambda: [0.5, 0.5])
    """Share of the iterations per level, coarse first (normalised)."""
    batch_views: int = 4
    """Views rasterized per step (the ``fast`` preset: 8). More views give each step a gradient
    less dominated by which views were drawn: with 8 instead of 4 the fitted silhouettes agree
    better with the test views on all six objects measured (mask IoU, e.g. the Stanford bunny
    0.9929 -> 0.9947, outside the repository) and novel views gain 0.1-0.7 dB on five; normal
    MAE fell on spot, knot, vase and the bunny (9.53 -> 9.06 deg) and rose on the blob
    (3.60 / 3.81 -> 3.86 / 3.87 deg, two seeds) and the bottle (3.07 -> 3.17), for twice the
    raster work per step (``results/geometry_batch_views.md``)."""
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
    photo_consistency: float = 3.0
    """Photo-consistency weighting of the photometric loss (0 = off). The per-vertex colour is
    view-independent; where a surface's colour changes with the view (metal, gloss) the residual
    stays large and its gradient dents the surface instead (the metallic bottle: normal MAE 2.55 deg
    with the photometric term off, 7.12 with it; ``results/geometry_consistency.md``). Each vertex's
    RMS colour residual across views is tracked (a running average over steps) and its pixels'
    photometric residual weighted by ``1 / (1 + (r / (k q))^4)``, q the lower quartile of r and k this value
    (:func:`relight.geometry.losses.consistency_weights`)."""
    shading: bool = False
    """Shade the per-vertex colour with a fitted low-frequency light before comparing it with the
    images: ``colour * exp(Y(n) @ k)``, ``Y`` the spherical harmonics of bands 1-2 of the
    vertex normal (shaded per vertex, then interpolated), ``k`` (8 x 3) fitted with the shape
    (:func:`relight.geometry.losses.sh_shading`), so the photometric term's gradient reaches the
    normals through shading (shape from shading) and not only through where colours land. Only
    with ``w_colour_tv`` > 0: a free per-vertex colour absorbs any shading otherwise."""
    w_colour_tv: float = 0.0
    """Weight of the per-vertex colour's total variation across mesh edges
    (:func:`relight.geometry.losses.edge_tv`, summed over edges and divided by the batch's pixels
    as the photometric mean is, so its pull per vertex is the same at any resolution, framing or
    mesh size): piecewise-flat colour, so smooth brightness changes are left to the shading (0 = off)."""
    view_gains: str = "auto"
    """Per-view colour factors fitted with the shape, so auto-exposure and white balance do not
    reach the colour, the shading light or the photo-consistency statistics: ``off``; ``exposure``
    (one factor per view); ``exposure_wb`` (one per view and channel); ``auto`` = ``exposure_wb``
    for 8-bit photos, ``off`` for linear HDR captures (as the material stage's ``view_gains``).
    Each factor multiplies the sRGB-encoded colour (a linear gain g is about g^(1/2.2) there) and
    the factors' log mean over the views is held at 0 (a common scale is the colour's)."""
    consistency_warmup: int = 25
    """Steps at the start of the fit with the weighting off, while the colours and the residual
    statistics settle (later levels inherit the statistics of the nearest vertex)."""
    supersample: int = 1
    """Rasterize at this many times the level's resolution and box-average (see
    :func:`render_views`): sub-pixel silhouettes matched as area coverage."""
    seed: int = 0
    checkpoint_every: int = 50

    def __post_init__(self):
        checks = [("hull_res", 16 <= self.hull_res <= 512), ("iterations", self.iterations >= 0),
                  ("smooth_init", 0 <= self.smooth_init <= 1000), ("carve", 0 <= self.carve <= 100),
                  ("normal_smoothing", 0 <= self.normal_smoothing <= 1000), ("smooth_final", 0 <= self.smooth_final <= 1000),
                  ("levels", 1 <= self.levels <= 5), ("batch_views", self.batch_views >= 1),
                  ("image_res", 16 <= self.image_res <= 4096), ("max_faces", self.max_faces >= 100),
                  ("remesh_edge_px", 0 <= self.remesh_edge_px <= 100),
                  ("lam", self.lam >= 0), ("lr", self.lr > 0), ("lr_decay", 0 < self.lr_decay <= 1), ("lr_color", self.lr_color >= 0),
                  ("w_mask", self.w_mask >= 0), ("w_rgb", self.w_rgb >= 0),
                  ("photo_consistency", 0 <= self.photo_consistency <= 100),
                  ("consistency_warmup", self.consistency_warmup >= 0), ("w_colour_tv", self.w_colour_tv >= 0),
                  ("supersample", 1 <= self.supersample <= 8)]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"{name} is out of range ({getattr(self, name)})")
        if self.view_gains not in ("auto", "off", "exposure", "exposure_wb"):
            raise ValueError(f"view_gains must be auto, off, exposure or exposure_wb, got '{self.view_gains}'")
        if not self.level_split or min(self.level_split) <= 0:
            raise ValueError("level_split needs positive shares")


PRESETS: dict[str, GeometryConfig] = {
    # spot, 64 views at 256² (bench/bench_geometry_ceiling.py, results/geometry_ceiling.md): the
    # remesh (2 px edges) and 2x supersampled coverage took the mesh's relight ceiling from
    # 29.74 to 30.67 dB (normal MAE 4.02 -> 2.97 deg) for 2-3x the time (59 -> 177 s)
    # batch_views 8: results/geometry_batch_views.md (affordable since the raster speed-up,
    # results/geometry_step.md)
    # shading + w_colour_tv 0.2: shape from shading under a fitted low-frequency light took the
    # normal MAE of spot / knot / blob / vase / bottle from 2.82 / 3.59 / 3.91 / 1.93 / 3.11 to
    # 2.62 / 3.37 / 3.00 / 1.69 / 2.58 deg and the outside Stanford bunny's 9.08 -> 8.77
    # (results/geometry_shading.md); the weight is per pixel, so quality's 512² takes the same
    # value (not measured there: no GPU run yet)
    "fast": GeometryConfig(batch_views=8, remesh_edge_px=2.0, supersample=2, shading=True, w_colour_tv=0.2),
    "quality": GeometryConfig(hull_res=128, iterations=2000, levels=3, level_split=[0.3, 0.3, 0.4],
                              batch_views=8, image_res=512, max_faces=200000, remesh_edge_px=2.0,
                              supersample=2, shading=True, w_colour_tv=0.2),
}


def load_config(preset: str = "fast", toml: str | Path | None = None, **over) -> GeometryConfig:
    """A preset, updated by a TOML file's keys and then by keyword overrides (None ignored)."""
    return load_preset(GeometryConfig, PRESETS, preset, toml, **over)
