"""``relight eval``: compare an asset with a capture's ground truth.

Protocol (TensoIR / NeRFactor style, on the capture's **test** views, inside the GT mask):

* **albedo** — the asset's albedo is ray-cast at pixel centres (as the GT AOV is); since albedo
  and light trade off, each channel is scaled by one least-squares factor
  ``s_c = Σ gt·pred / Σ pred²`` over all test pixels; PSNR/SSIM on linear albedo in [0, 1].
* **relighting** — the aligned albedo (×s_c, clipped to 1) is rendered under each relit set's
  ground-truth envmap and compared with the relit GT; PSNR/SSIM on sRGB-encoded values.
* **relighting without the renders' noise** (optional, for synthetic captures) — given the
  :class:`Reference` the relit images were rendered from, the asset is rendered a second time
  and the reference scene twice more, and each relit set also gets a *noise-free* PSNR: the
  metric's MSE less both renders' measured noise variance
  (:func:`relight.evaluation.metrics.noise_free_mse`). At 256 spp against 256-spp references the
  metric caps the reference scene itself at ~32.7 dB on spot; the noise-free figure is what the
  asset's converged render would score against the converged reference (results/eval_noise.md).
* **novel view** — the asset under its own envmap vs. the test images (no alignment), sRGB.
* **roughness**, **metallic** — mean absolute error (metallic only where the capture has its AOV;
  an asset without a metallic texture counts as 0); **mask IoU** — coverage > 0.5 in both.
* **geometry** — normal MAE (degrees, shading normals at pixel centres covered in both) and,
  given the GT mesh, Chamfer distance as a fraction of its bbox diagonal
  (:mod:`relight.evaluation.metrics`).

PSNR uses the mean squared error over mask pixels (coverage > 0.5), peak 1. SSIM is
scikit-image's on the full image with the background zeroed in both. Renders use
:data:`EVAL_SPP` samples per pixel wherever the metrics are computed (``relight eval``, and the
evaluation at the end of ``relight material`` and ``relight fit``), as many as ``relight synth``
gives the references, so that Monte Carlo noise is not mistaken for asset error.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from relight.data.asset import Asset
from relight.data.capture import Capture
from relight.data.images import linear_to_srgb, read_envmap
from relight.evaluation import EVAL_SPP
from relight.evaluation.metrics import (
    chamfer,
    channel_scale,
    noise_free_mse,
    noise_free_psnr,
    normal_mae,
    overlap,
    psnr,
    psnr_of,
    squared_error,
    ssim,
)
from relight.render.mitsuba import build_scene, render_views, surface_aovs
from relight.runtime.backend import Backend
from relight.runtime.errors import RelightError
from relight.runtime.progress import Reporter

EVAL_DEPTH = 6
"""Path length of evaluation renders when the capture does not record its own (photographs)."""


@dataclass(frozen=True)
class Reference:
    """The scene a synthetic capture's relit images were rendered from (``relight synth``'s
    ``gt/`` asset) and their samples per pixel: what :func:`evaluate` needs to measure the
    references' Monte Carlo noise."""

    asset: Asset
    spp: int


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one asset against one capture (``None`` when the capture lacks that GT)."""

    albedo_psnr: float | None = None
    albedo_ssim: float | None = None
    albedo_scale: list[float] | None = None
    roughness_mae: float | None = None
    metallic_mae: float | None = None
    relight_psnr: dict[str, float] = field(default_factory=dict)
    relight_ssim: dict[str, float] = field(default_factory=dict)
    relight_psnr_noise_free: dict[str, float] = field(default_factory=dict)
    novel_view_psnr: float | None = None
    novel_view_ssim: float | None = None
    mask_iou: float | None = None
    normal_mae: float | None = None
    chamfer: float | None = None
    views: int = 0

    @property
    def relight_psnr_mean(self) -> float | None:
        return float(np.mean(list(self.relight_psnr.values()))) if self.relight_psnr else None

    @property
    def relight_psnr_noise_free_mean(self) -> float | None:
        nf = self.relight_psnr_noise_free
        return float(np.mean(list(nf.values()))) if nf else None

    def to_json(self) -> dict:
        d = {k: v for k, v in vars(self).items()}
        d["relight_psnr_mean"] = self.relight_psnr_mean
        d["relight_psnr_noise_free_mean"] = self.relight_psnr_noise_free_mean
        d["relight_ssim_mean"] = float(np.mean(list(self.relight_ssim.values()))) if self.relight_ssim else None
        return d

    def to_markdown(self) -> str:
        def f(x, unit=""):
            return "—" if x is None else f"{x:.3f}{unit}" if abs(x) < 1 else f"{x:.2f}{unit}"

        rows = [("albedo PSNR (dB, scale-aligned, linear)", f(self.albedo_psnr)),
                ("albedo SSIM", f(self.albedo_ssim)), ("roughness MAE", f(self.roughness_mae)),
                *([("metallic MAE", f(self.metallic_mae))] if self.metallic_mae is not None else []),
                ("relight PSNR mean (dB, sRGB)", f(self.relight_psnr_mean)),
                *[(f"relight PSNR {k}", f(v)) for k, v in self.relight_psnr.items()],
                *[(f"relight SSIM {k}", f(v)) for k, v in self.relight_ssim.items()],
                *([("relight PSNR mean, noise-free estimate (dB)", f(self.relight_psnr_noise_free_mean))]
                  if self.relight_psnr_noise_free else []),
                *[(f"relight PSNR {k}, noise-free estimate", f(v))
                  for k, v in self.relight_psnr_noise_free.items()],
                ("novel-view PSNR (dB, sRGB)", f(self.novel_view_psnr)),
                ("novel-view SSIM", f(self.novel_view_ssim)), ("mask IoU", f(self.mask_iou)),
                ("normal MAE (degrees)", f(self.normal_mae)),
                ("Chamfer (% of GT bbox diagonal)", f(None if self.chamfer is None else 100 * self.chamfer))]
        return "\n".join(["| metric | value |", "|---|---|", *[f"| {a} | {b} |" for a, b in rows]]) + "\n"


def covered_pixels(aov: list[dict[str, np.ndarray]], masks: np.ndarray) -> np.ndarray:
    """(N, H, W) bool: the test pixels inside the masks (> 0.5) where the asset's surface was hit,
    from :func:`relight.render.mitsuba.surface_aovs` of each test view; the pixels every
    per-surface metric is taken over."""
    return (np.asarray(masks) > 0.5) & np.stack([a["hit"] > 0 for a in aov])


def albedo_aligned(asset: Asset, albedo: np.ndarray, gt_albedo: np.ndarray,
                   covered: np.ndarray) -> tuple[np.ndarray, Asset]:
    """(per-channel scale (3,), ``asset`` with its albedo texture times that scale, clipped to [0, 1]):
    the least-squares scale of the albedo the test views see (``albedo`` (N, H, W, 3), from
    :func:`relight.render.mitsuba.surface_aovs`) onto ``gt_albedo`` over the ``covered`` pixels
    (:func:`covered_pixels`) — albedo is recoverable only up to the light's scale, so it is
    scored, and relit, after this alignment."""
    s = channel_scale(albedo, gt_albedo, covered)
    return s, replace(asset, albedo=np.clip(asset.albedo * s, 0, 1).astype(np.float32))


def aligned_asset(asset: Asset, test: Capture, backend: Backend, max_depth: int | None = None) -> Asset:
    """``asset`` with its albedo aligned to the test split's GT as :func:`evaluate` relights it."""
    scene = build_scene(backend, asset, max_depth or test.max_depth or EVAL_DEPTH)
    aov = [surface_aovs(backend, scene, asset, c) for c in test.cameras]
    return albedo_aligned(asset, np.stack([a["albedo"] for a in aov]), test.gt.albedo,
                          covered_pixels(aov, test.masks))[1]


def evaluate(asset: Asset, test: Capture, backend: Backend, *, spp: int = EVAL_SPP, max_depth: int | None = None,
             reporter: Reporter | None = None, gt_mesh=None, reference: Reference | None = None) -> EvalResult:
    """Evaluate ``asset`` on a capture's test split (see the module docstring). Renders use
    ``max_depth``, else the capture's own (the depth its references were rendered with), else
    :data:`EVAL_DEPTH`. With ``reference``, relighting is also scored without the renders' noise
    (three more renders of each relit set)."""
    max_depth = max_depth or test.max_depth or EVAL_DEPTH
    rep = reporter or Reporter()
    if len(test) == 0:
        raise RelightError("capture has no test views", fix="evaluate on a capture with a test split")
    scene = build_scene(backend, asset, max_depth)
    sums = np.zeros(4)  # squared error, values, mask intersection, union: summed view by view
    ssims = []

    def score(i: int, rgba: np.ndarray) -> None:
        m = test.masks[i]
        nv_s, gt_s = linear_to_srgb(rgba[..., :3]), linear_to_srgb(test.images[i])
        sums[:] += [*squared_error(nv_s, gt_s, m > 0.5), *overlap(rgba[..., 3], m)]
        ssims.append(ssim(nv_s[None], gt_s[None], (m > 0.5)[None]))
        adv()

    with rep.task("eval: novel views", len(test)) as adv:
        render_views(backend, scene, test.cameras, spp, seed=7, on_view=score, keep=False,
                     light_deg=test.light_deg(asset.envmap_rotation_deg))
    res = EvalResult(novel_view_psnr=psnr_of(sums[0], int(sums[1])), novel_view_ssim=float(np.mean(ssims)),
                     mask_iou=float(sums[2] / max(sums[3], 1)), views=len(test),
                     chamfer=None if gt_mesh is None else chamfer(asset.mesh, gt_mesh))
    gt = test.gt
    if gt is None or gt.albedo is None:
        return res
    mask = np.asarray(test.masks) > 0.5  # ground truth: a synthetic split, small
    aov = [surface_aovs(backend, scene, asset, c) for c in test.cameras]
    both = covered_pixels(aov, test.masks)
    if gt.normals is not None:
        res = replace(res, normal_mae=normal_mae(np.stack([a["normals"] for a in aov]), gt.normals, both))
    alb = np.stack([a["albedo"] for a in aov])
    s, aligned = albedo_aligned(asset, alb, gt.albedo, both)
    alb_al = np.clip(alb * s, 0, 1)
    res = replace(res, albedo_psnr=psnr(alb_al, gt.albedo, both), albedo_ssim=ssim(alb_al, gt.albedo, both),
                  albedo_scale=[float(x) for x in s])
    if gt.roughness is not None:
        rough = np.stack([a["roughness"] for a in aov])
        res = replace(res, roughness_mae=float(np.abs(rough - gt.roughness)[both].mean()))
    if gt.metallic is not None:  # an asset without a metallic texture is a dielectric: 0 everywhere
        metal = np.stack([a.get("metallic", np.zeros_like(a["roughness"])) for a in aov])
        res = replace(res, metallic_mae=float(np.abs(metal - gt.metallic)[both].mean()))
    rp, rs, nf = {}, {}, {}
    for name, rv in test.relit.items():
        env = read_envmap(rv.envmap)
        sc = build_scene(backend, aligned.with_envmap(env, rv.rotation_deg), max_depth)
        runs = [(sc, spp, 11)]
        if reference is not None:  # seeds apart from the synth's (10000 + its seed, per view)
            rsc = build_scene(backend, reference.asset.with_envmap(env, rv.rotation_deg), max_depth)
            runs += [(sc, spp, 5011), (rsc, reference.spp, 6011), (rsc, reference.spp, 7011)]
        with rep.task(f"eval: relit {name}", len(test) * len(runs)) as adv:
            imgs = [linear_to_srgb(render_views(backend, s_, test.cameras, n, seed=k,
                                                on_view=lambda i, _: adv())[..., :3]) for s_, n, k in runs]
        g_s = linear_to_srgb(rv.images)
        rp[name], rs[name] = psnr(imgs[0], g_s, mask), ssim(imgs[0], g_s, mask)
        if reference is not None:
            nf[name] = noise_free_psnr(noise_free_mse(imgs[0], imgs[1], g_s, imgs[2], imgs[3], mask))
    return replace(res, relight_psnr=rp, relight_ssim=rs, relight_psnr_noise_free=nf)
