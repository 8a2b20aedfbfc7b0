"""Material and lighting stage: albedo, roughness (and optional metallic) textures and an HDR
environment map, fitted to a capture by differentiable path tracing (Mitsuba 3 ``prb``).

The mesh is fixed. Each iteration renders a random batch of training views with the current
parameters, compares them to the captured linear HDR images inside the mask (``relative_l2``), back-
propagates through the path tracer (multi-bounce, so shadows and inter-reflections are explained
by light and geometry, not baked into albedo), adds regularizer gradients and takes an Adam step.
Textures and the envmap go coarse-to-fine: each level doubles their resolution.

The albedo-light ambiguity (any light error can be absorbed by shading baked into albedo, and
the images hardly tell the two apart under Monte Carlo noise) is handled by documented priors:
(1) ``shared_warmup`` holds albedo and roughness spatially constant for the first steps, so the
envmap explains the shading before the textures can absorb it; (2) the reflectance-sparsity
("palette") prior pulls albedo texels to the nearest of a few k-means colours until
``palette_until``, so one material's shading must come from the light; the textures then relax
to the data under that light; (3) edge-preserving TV-L1 on the textures, under which
low-frequency shading baked into albedo costs as much as a sharp edge; (4) smoothness of the
light's colour (``tv_env_chroma``), so a part of the light seen by few surfaces (the ground under
spot, seen by its udder) cannot take on a cast for the albedo to undo; (5) the optional
``white_balance`` prior on the light's mean colour. The light learns fast (``lr_env``): along
the ambiguity its gradient is weak. At the steps ``refine_at`` (the end of the warm-up and each
level switch) the albedo is re-solved under the current light by one multiplicative ratio pass
(:mod:`relight.refine`), which moves dim, rarely seen texels that gradient steps leave behind. The remaining global per-channel scale is not observable
and is removed by the evaluation protocol (:mod:`relight.evaluate`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from relight.asset import Asset
from relight.backend import Backend
from relight.capture import Capture
from relight.config import load_preset, to_dict
from relight.errors import RelightError
from relight.interrupt import Interrupted, graceful_stop
from relight.io.images import resize_area
from relight.io.paths import read_checkpoint, write_checkpoint
from relight.losses import (
    latlong_weights,
    log_l1,
    palette_centers,
    palette_l1,
    relative_l2,
    relative_weight,
    tv_chroma,
    tv_l1,
    tv_l2,
    white_balance,
)
from relight.mesh import Mesh
from relight.optim import Adam, level_of
from relight.progress import Reporter
from relight.refine import refine_albedo
from relight.render import KA, KE, KM, KR, build_scene, sensor
from relight.uv import uv_coverage


@dataclass(frozen=True)
class MaterialConfig:
    """Settings of :func:`fit_material` (TOML-loadable; presets in :data:`PRESETS`)."""

    iterations: int = 2000
    """Optimization steps (all levels together)."""
    batch_views: int = 1
    """Training views rendered per step."""
    spp: int = 8
    """Samples per pixel of the primal render of each step."""
    spp_grad: int = 0
    """Samples per pixel of the adjoint (gradient) pass; 0 = ``spp``. Fewer makes a step cheaper
    (the adjoint pass re-traces every path) at the price of noisier gradients."""
    max_depth: int = 3
    """Path length limit; 3 = direct light + one indirect bounce."""
    tex_res: int = 256
    """Final albedo/roughness texture resolution (square)."""
    env_width: int = 64
    """Final envmap width (height = width / 2)."""
    levels: int = 3
    """Coarse-to-fine levels; each halves the image, texture and envmap resolution of the next."""
    level_split: list[float] = field(default_factory=lambda: [0.4, 0.3, 0.3])
    """Share of the iterations spent at each level, coarse first (normalised; padded with its
    last value when shorter than ``levels``). Coarse levels are cheap: images are smaller."""
    lr_albedo: float = 0.05
    lr_roughness: float = 0.05
    lr_env: float = 0.2
    """Learning rate on log radiance (high: along the albedo-light valley the light's gradient is
    weak, and with 0.05 it was still moving when the run ended; 0.4 was measured to diverge in
    a longer run — results/README.md)."""
    lr_decay: float = 0.2
    """Final learning rate as a fraction of the initial one (exponential decay)."""
    init_albedo: float = 0.5
    init_roughness: float = 0.5
    init_env: float = 0.5
    """Initial uniform envmap radiance."""
    tv_albedo: float = 0.02
    """Weight of the albedo smoothness regularizer (suppresses Monte Carlo speckle and shading
    baked into albedo). Scale: TV-L1 weights ~50x smaller than TV-L2 ones act alike on 1/255 steps.
    ``fast`` uses 0.05: its 512² texels are each seen by ~1/4 pixel of a 256² view, and 0.02 left
    them speckled (spot: albedo 29.9 -> 30.7 dB)."""
    tv_roughness: float = 0.02
    tv_norm: str = "l1"
    """Smoothness penalty of albedo/roughness: ``l2`` (TV-L2, smooth) or ``l1`` (Charbonnier
    TV-L1, edge-preserving; penalizes low-frequency shading baked into albedo)."""
    shared_warmup: float = 0.1
    """Share of the iterations during which albedo and roughness are held spatially constant
    (their gradients averaged over texels), so that the envmap explains the shading first."""
    palette_albedo: float = 0.2
    """Weight of the reflectance-sparsity prior: albedo texels pulled (TV-L1-like constant force)
    to the nearest of ``palette_size`` k-means colours of the albedo in use, so that shading is
    explained by the light rather than baked into a spread of albedo values. Off before the end
    of ``shared_warmup``."""
    palette_size: int = 6
    """Number of palette colours (distinct materials expected; more = weaker prior)."""
    palette_until: float = 0.7
    """Share of the iterations after which the palette prior is switched off: it steers the
    light early; the textures then relax to the data under that light. The albedo's Adam
    moments restart there: sized by the prior's pull, they would otherwise keep the steps of
    weakly observed texels (spot's udder) small long after it is gone."""
    tv_env: float = 0.0
    """Weight of TV-L2 on the log envmap (smooths brightness too; flattens a sun)."""
    tv_env_chroma: float = 0.0
    """Weight of TV-L2 on the envmap's log chromaticity (:func:`relight.losses.tv_chroma`):
    neighbouring directions of the light should have similar colour; brightness stays free."""
    white_balance: float = 0.0
    """Weight of the light white-balance prior (grey mean light); 0 leaves colour to the data."""
    metallic: bool = False
    """Also fit a metallic texture (off: dielectric)."""
    fit_albedo: bool = True
    fit_roughness: bool = True
    fit_envmap: bool = True
    """Optimize the envmap (false: keep the initial one, e.g. a measured light probe)."""
    loss: str = "relative_l2"
    """Image loss: ``relative_l2`` (unbiased under MC noise) or ``log_l1`` (robust, biased)."""
    min_roughness: float = 0.05
    average_last: float = 0.3
    """Output the running mean of the parameters over this final share of the iterations
    (Polyak averaging: it removes most of the Monte Carlo gradient noise left in the textures)."""
    seed: int = 0
    """Seed of view batches and path samples. CPU runs with ``threads = 1`` are bitwise
    reproducible; with more threads, gradient accumulation order varies (differences ~1e-7)."""
    threads: int = 0
    """CPU worker threads for Dr.Jit's LLVM backend (0 = all cores)."""
    checkpoint_every: int = 50
    """Write a checkpoint every N steps (0: never)."""
    refine_at: list[float] = field(default_factory=list)
    """Shares of the iterations at which the albedo is re-solved by one pass of the refinement
    below under the current light, at the current level's resolution (its Adam moments restart).
    Measured on spot with ``tv_env_chroma``: re-solves at the end of the warm-up and at both level
    switches cut the white material's RMS error 0.029 -> 0.023 (results/README.md); without the
    light prior they do not help, since under a biased light the data-driven colour is biased."""
    refine_passes: int = 0
    """Passes of multiplicative albedo refinement after the gradient steps, light and roughness
    fixed (:mod:`relight.refine`): each renders every training view once and rescales each texel
    by the least-squares ratio of observed to rendered radiance. It moves texels that are seen
    dimly or rarely (whose gradient steps stall under Monte Carlo noise) to the data. 0 = off."""
    refine_spp: int = 32
    """Samples per pixel of each view in a refinement pass (split between two independent renders)."""
    refine_blur: float = 1.0
    """Gaussian sigma (texels) of the ratio's numerator and denominator: the correction, not
    the albedo, is smoothed, so albedo edges stay sharp while per-texel noise averages out."""
    refine_damping: float = 0.05
    """Texels seen by few pixels stay nearer their value: the ratio's sums are both padded by
    this fraction of the median denominator."""
    refine_colour_sigma: float = 0.0
    """> 0: pool the ratio's sums only over neighbours of similar albedo (joint bilateral, this
    sigma in linear RGB), so the ``refine_blur`` neighbourhood can be wide without crossing edges."""

    def __post_init__(self):
        checks = [("iterations", self.iterations >= 1), ("batch_views", self.batch_views >= 1),
                  ("spp", 1 <= self.spp <= 4096), ("spp_grad", 0 <= self.spp_grad <= 4096),
                  ("max_depth", 2 <= self.max_depth <= 32),
                  ("tex_res", 4 <= self.tex_res <= 8192), ("env_width", 8 <= self.env_width <= 8192),
                  ("levels", 1 <= self.levels <= 6),
                  ("palette_size", 1 <= self.palette_size <= 64), ("palette_until", 0 <= self.palette_until <= 1),
                  ("lr_decay", 0 < self.lr_decay <= 1),
                  ("init_albedo", 0 <= self.init_albedo <= 1), ("init_env", self.init_env > 0),
                  ("min_roughness", 0 <= self.min_roughness <= self.init_roughness <= 1),
                  ("average_last", 0 <= self.average_last < 1), ("threads", self.threads >= 0),
                  ("refine_passes", 0 <= self.refine_passes <= 100), ("refine_spp", 2 <= self.refine_spp <= 4096),
                  ("refine_blur", 0 <= self.refine_blur <= 64), ("refine_damping", self.refine_damping >= 0),
                  ("refine_colour_sigma", self.refine_colour_sigma >= 0)]
        if self.tv_norm not in ("l1", "l2"):
            raise ValueError(f"tv_norm must be 'l1' or 'l2', got '{self.tv_norm}'")
        if not 0 <= self.shared_warmup < 1:
            raise ValueError(f"shared_warmup is out of range ({self.shared_warmup})")
        if self.loss not in ("relative_l2", "log_l1"):
            raise ValueError(f"loss must be 'relative_l2' or 'log_l1', got '{self.loss}'")
        if any(not 0 <= x < 1 for x in self.refine_at):
            raise ValueError("refine_at needs shares in [0, 1)")
        if not self.level_split or min(self.level_split) <= 0:
            raise ValueError("level_split needs positive shares")
        for name, ok in checks:
            if not ok:
                raise ValueError(f"{name} is out of range ({getattr(self, name)})")
        for k in ("lr_albedo", "lr_roughness", "lr_env", "tv_albedo", "tv_roughness", "tv_env", "tv_env_chroma",
                  "white_balance", "palette_albedo"):
            if getattr(self, k) < 0:
                raise ValueError(f"{k} must be >= 0")


PRESETS: dict[str, MaterialConfig] = {
    "fast": MaterialConfig(spp_grad=4, tex_res=512, tv_albedo=0.05, tv_env_chroma=0.1, refine_at=[0.1, 0.4, 0.7]),
    "quality": MaterialConfig(iterations=3000, batch_views=4, spp=32, max_depth=5, tex_res=1024,
                              env_width=256, levels=4, level_split=[0.25, 0.25, 0.25, 0.25],
                              tv_env_chroma=0.1, refine_at=[0.1, 0.25, 0.5, 0.75]),
}


def load_config(preset: str = "fast", toml: str | Path | None = None, **over) -> MaterialConfig:
    """A preset, updated by a TOML file's keys and then by keyword overrides (None ignored)."""
    return load_preset(MaterialConfig, PRESETS, preset, toml, **over)


@dataclass
class MaterialState:
    """Everything needed to resume: parameters, optimizer moments, step, loss history."""

    params: dict[str, np.ndarray]
    adam: Adam
    step: int = 0
    losses: list[float] = field(default_factory=list)
    avg: dict[str, np.ndarray] = field(default_factory=dict)
    avg_count: int = 0

    def accumulate(self) -> None:
        """Add the current parameters to the running mean (restarting on a resolution change).

        The envmap is averaged as radiance, not log radiance: the mean of ``log_env`` is the
        *geometric* mean, biased dark for a jittering light (the asset rendered 11-19 % dark on spot)."""
        if any(self.avg.get(k, v).shape != v.shape for k, v in self.params.items()):
            self.avg, self.avg_count = {}, 0
        self.avg_count += 1
        w = 1.0 / self.avg_count
        for k, v in self.params.items():
            x = np.exp(v) if k == "log_env" else v
            self.avg[k] = x.copy() if self.avg_count == 1 else ((1 - w) * self.avg[k] + w * x).astype(np.float32)

    def output(self) -> dict[str, np.ndarray]:
        """The parameters to write: the running means if averaging has started (``log_env`` as log)."""
        if not self.avg_count:
            return self.params
        return {k: (np.log(np.maximum(v, 1e-30)).astype(np.float32) if k == "log_env" else v)
                for k, v in self.avg.items()}


def _level_of(step: int, cfg: MaterialConfig) -> int:
    return level_of(step, cfg.iterations, cfg.levels, cfg.level_split)


def _refine_settings(cfg: MaterialConfig) -> dict:
    """The keyword arguments of :func:`relight.refine.refine_albedo` that the config sets."""
    return {"spp": cfg.refine_spp, "max_depth": cfg.max_depth, "damping": cfg.refine_damping,
            "blur": cfg.refine_blur, "colour_sigma": cfg.refine_colour_sigma}


def _palette_end(cfg: MaterialConfig) -> int:
    """First step without the palette prior."""
    return int(np.ceil(cfg.palette_until * cfg.iterations))


def _image_factor(cfg: MaterialConfig, level: int) -> int:
    """Integer downscale of the training images at ``level`` (1 at the finest)."""
    return 2 ** (cfg.levels - 1 - level)


def _res(cfg: MaterialConfig, level: int) -> tuple[int, int]:
    f = _image_factor(cfg, level)
    return max(4, cfg.tex_res // f), max(8, cfg.env_width // f)


def init_state(cfg: MaterialConfig, init: Asset | None = None) -> MaterialState:
    """Uniform initial parameters at the coarsest level, or those of ``init`` resampled."""
    tr, ew = _res(cfg, 0)
    p = {"albedo": np.full((tr, tr, 3), cfg.init_albedo, np.float32),
         "roughness": np.full((tr, tr, 1), cfg.init_roughness, np.float32),
         "log_env": np.full((ew // 2, ew, 3), np.log(cfg.init_env), np.float32)}
    if cfg.metallic:
        p["metallic"] = np.full((tr, tr, 1), 0.0, np.float32)
    if init is not None:
        p["albedo"] = resize_area(init.albedo, tr, tr)
        p["roughness"] = resize_area(init.roughness[..., None], tr, tr)
        p["log_env"] = np.log(np.maximum(resize_area(init.envmap, ew // 2, ew), 1e-6))
        if cfg.metallic and init.metallic is not None:
            p["metallic"] = resize_area(init.metallic[..., None], tr, tr)
        p = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in p.items()}
    lrs = {"albedo": cfg.lr_albedo, "roughness": cfg.lr_roughness, "log_env": cfg.lr_env, "metallic": cfg.lr_roughness}
    return MaterialState(p, Adam(lrs, masked=("albedo", "roughness", "metallic")))


def _upsample(state: MaterialState, cfg: MaterialConfig, level: int) -> None:
    tr, ew = _res(cfg, level)
    for k, a in list(state.params.items()):
        shape = (ew // 2, ew) if k == "log_env" else (tr, tr)
        if a.shape[:2] != shape:
            state.params[k] = np.ascontiguousarray(resize_area(a, *shape), dtype=np.float32)
            state.adam.resample(k, lambda x, shape=shape: resize_area(x, *shape))


def _pad_index(h: int, w: int) -> np.ndarray:
    """Gather indices building Mitsuba's envmap layout (H, W + 2, 3): wrap columns at both ends."""
    cols = (np.arange(w + 2) - 1) % w
    idx = (np.arange(h)[:, None, None] * w + cols[None, :, None]) * 3 + np.arange(3)[None, None, :]
    return idx.ravel().astype(np.uint32)


def _project(p: dict[str, np.ndarray], cfg: MaterialConfig) -> None:
    np.clip(p["albedo"], 0.0, 1.0, out=p["albedo"])
    np.clip(p["roughness"], cfg.min_roughness, 1.0, out=p["roughness"])
    if "metallic" in p:
        np.clip(p["metallic"], 0.0, 1.0, out=p["metallic"])
    np.clip(p["log_env"], -12.0, 12.0, out=p["log_env"])


def state_to_asset(state: MaterialState, mesh: Mesh, info: dict | None = None) -> Asset:
    """The asset of the output parameters (the running means once averaging has started)."""
    return params_to_asset(state.output(), mesh, info)


def params_to_asset(p: dict[str, np.ndarray], mesh: Mesh, info: dict | None = None) -> Asset:
    return Asset(mesh, p["albedo"].copy(), p["roughness"][..., 0].copy(), np.exp(p["log_env"]).astype(np.float32),
                 p["metallic"][..., 0].copy() if "metallic" in p else None, 0.0, info or {})


def save_checkpoint(path: Path, state: MaterialState, cfg: MaterialConfig) -> None:
    """Atomic ``ckpt.npz`` (parameters, Adam state, running means + JSON metadata; no pickle)."""
    arrays = ({f"p/{k}": v for k, v in state.params.items()} | {f"adam/{k}": v for k, v in state.adam.state().items()}
              | {f"avg/{k}": v for k, v in state.avg.items()})
    meta = {"step": state.step, "losses": state.losses, "config": to_dict(cfg), "avg_count": state.avg_count}
    write_checkpoint(path, "ckpt", arrays, meta)


def load_checkpoint(path: Path, cfg: MaterialConfig) -> MaterialState:
    z, meta = read_checkpoint(path, "ckpt")
    if meta.get("config") != to_dict(cfg):
        raise RelightError("checkpoint was written with another configuration", path=path / "ckpt.npz",
                           fix="resume with the same options, or start afresh without --resume")
    state = init_state(cfg)
    state.params = {k[2:]: v for k, v in z.items() if k.startswith("p/")}
    state.adam.load_state({k[5:]: v for k, v in z.items() if k.startswith("adam/")})
    state.avg = {k[4:]: v for k, v in z.items() if k.startswith("avg/")}
    state.step, state.losses = int(meta["step"]), list(meta["losses"])
    state.avg_count = int(meta.get("avg_count", 0))
    return state


@dataclass(frozen=True)
class MaterialResult:
    asset: Asset
    losses: list[float]
    seconds: float
    seconds_per_step: float
    primal_seconds: float
    """Wall time of one plain render of one training view at the same spp (no gradients)."""


class RenderProblem:
    """The differentiable rendering side of the stage: scene, sensors and targets.

    ``loss_and_grads`` renders views with given parameters and returns the image loss and its
    gradients with respect to each parameter array (same shapes), via Mitsuba's ``prb``.
    """

    def __init__(self, capture: Capture, mesh: Mesh, cfg: MaterialConfig, backend: Backend,
                 init: dict[str, np.ndarray]):
        mi = backend.mitsuba()
        self.mi, self.cfg = mi, cfg
        asset = Asset(mesh, init["albedo"], init["roughness"][..., 0], np.exp(init["log_env"]),
                      init["metallic"][..., 0] if "metallic" in init else None)
        self.scene = build_scene(backend, asset, cfg.max_depth, integrator="prb")
        self.params = mi.traverse(self.scene)
        self.capture, self.backend = capture, backend
        self.factor = 0
        self.set_image_factor(1)
        self._pad: dict[tuple[int, int], object] = {}

    def set_image_factor(self, factor: int) -> None:
        """Render and compare at the capture's resolution divided by ``factor`` (area-averaged)."""
        if factor == self.factor:
            return
        mi = self.mi
        self.level_capture = self.capture.downscaled(factor)
        imgs, masks = self.level_capture.images, self.level_capture.masks
        self.sensors = [sensor(self.backend, c, self.cfg.spp, pixel_format="rgb") for c in self.level_capture.cameras]
        self.targets = [mi.TensorXf(np.ascontiguousarray(im, dtype=np.float32)) for im in imgs]
        if self.cfg.loss == "relative_l2":
            w = [relative_weight(im, m) for im, m in zip(imgs, masks, strict=True)]
        else:
            w = [(m > 0).astype(np.float32)[..., None] for m in masks]
        self.weights = [mi.TensorXf(np.ascontiguousarray(x)) for x in w]
        self.factor = factor

    def _assign(self, p: dict[str, np.ndarray]) -> dict:
        import drjit as dr

        mi, handles = self.mi, {}
        for k, v in p.items():
            t = mi.TensorXf(np.ascontiguousarray(v))
            dr.enable_grad(t)
            handles[k] = t
            if k == "log_env":
                h, w = v.shape[:2]
                if (h, w) not in self._pad:
                    self._pad[(h, w)] = mi.UInt32(_pad_index(h, w))
                flat = dr.gather(mi.Float, dr.exp(t).array, self._pad[(h, w)])
                self.params[KE] = mi.TensorXf(flat, shape=(h, w + 2, 3))
            else:
                self.params[{"albedo": KA, "roughness": KR, "metallic": KM}[k]] = t
        self.params.update()
        return handles

    def render(self, p: dict[str, np.ndarray], view: int, seed: int):
        """Primal render (H, W, 3) of one training view with parameters ``p`` (no gradients)."""
        import drjit as dr

        self._assign(p)
        with dr.suspend_grad():
            img = self.mi.render(self.scene, self.params, sensor=self.sensors[view], spp=self.cfg.spp, seed=seed)
            dr.eval(img)
        return img

    def loss_and_grads(self, p: dict[str, np.ndarray], views, rng: np.random.Generator):
        import drjit as dr

        handles = self._assign(p)
        loss_fn = relative_l2 if self.cfg.loss == "relative_l2" else log_l1
        loss = 0.0
        for v in views:
            img = self.mi.render(self.scene, self.params, sensor=self.sensors[v], spp=self.cfg.spp,
                                 spp_grad=self.cfg.spp_grad or self.cfg.spp,
                                 seed=int(rng.integers(2**31)), seed_grad=int(rng.integers(2**31)))
            loss = loss + loss_fn(img, self.targets[v], self.weights[v]) / len(views)
        dr.backward(loss)
        grads = {k: np.array(dr.grad(h)).reshape(p[k].shape) for k, h in handles.items()}
        for g in grads.values():
            np.nan_to_num(g, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return float(np.asarray(loss).ravel()[0]), grads


def regularize(p: dict[str, np.ndarray], grads: dict[str, np.ndarray], cfg: MaterialConfig,
               albedo_mask: np.ndarray | None = None) -> float:
    """Add the weighted regularizer gradients to ``grads`` in place; return their total value.

    ``albedo_mask`` (H, W) bool: texels in use (:func:`relight.uv.uv_coverage`); the palette
    prior acts only when it is given."""
    value = 0.0
    if cfg.palette_albedo > 0 and albedo_mask is not None and albedo_mask.shape == p["albedo"].shape[:2]:
        centers = palette_centers(p["albedo"], albedo_mask, cfg.palette_size, cfg.seed)
        v, g = palette_l1(p["albedo"], albedo_mask, centers)
        grads["albedo"] += cfg.palette_albedo * g
        value += cfg.palette_albedo * v
    tv = tv_l1 if cfg.tv_norm == "l1" else tv_l2
    terms = [("albedo", cfg.tv_albedo, lambda x: tv(x)), ("roughness", cfg.tv_roughness, lambda x: tv(x)),
             ("log_env", cfg.tv_env, lambda x: tv_l2(x, wrap_x=True)), ("log_env", cfg.tv_env_chroma, tv_chroma),
             ("log_env", cfg.white_balance, lambda x: white_balance(x, latlong_weights(*x.shape[:2])))]
    for key, w, fn in terms:
        if w > 0:
            v, g = fn(p[key])
            grads[key] += w * g
            value += w * v
    return value


def fit_material(capture: Capture, mesh: Mesh, cfg: MaterialConfig, backend: Backend, *,
                 checkpoint_dir: Path | None = None, resume: bool = False,
                 reporter: Reporter | None = None, stop_at: int | None = None,
                 init: Asset | None = None) -> MaterialResult:
    """Fit textures and envmap of ``mesh`` (with UVs) to ``capture``; returns the asset.

    ``stop_at`` ends the run after that many steps as an interruption would (checkpoint written),
    so that a later call with ``resume=True`` continues it.
    """
    import drjit as dr

    rep = reporter or Reporter()
    if mesh.uvs is None:
        raise RelightError("mesh has no UVs", fix="unwrap it first (relight.uv.unwrap)")
    state = load_checkpoint(checkpoint_dir, cfg) if resume and checkpoint_dir else init_state(cfg, init)
    _upsample(state, cfg, _level_of(state.step, cfg))
    threads_before = dr.thread_count()
    if backend.device == "cpu":
        dr.set_thread_count(cfg.threads or (os.cpu_count() or 1))
    try:
        return _fit(capture, mesh, cfg, backend, state, checkpoint_dir, rep, stop_at)
    finally:
        dr.set_thread_count(threads_before)


def _fit(capture, mesh, cfg, backend, state, checkpoint_dir, rep, stop_at) -> MaterialResult:
    import drjit as dr

    frozen = {k for k, on in (("albedo", cfg.fit_albedo), ("roughness", cfg.fit_roughness),
                              ("metallic", cfg.fit_roughness), ("log_env", cfg.fit_envmap)) if not on}
    prob = RenderProblem(capture, mesh, cfg, backend, state.params)
    t0 = time.perf_counter()  # primal timing below is at full resolution
    for seed in (0, 1):  # the second call is compiled already: its time is the primal cost
        t = time.perf_counter()
        prob.render(state.params, 0, seed)
        dr.sync_thread()
        primal = time.perf_counter() - t
    step_times = []
    refine_steps = {int(round(x * cfg.iterations)) for x in cfg.refine_at}
    coverage: dict[int, np.ndarray] = {}  # texels in use, per texture resolution
    with rep.task("material", cfg.iterations) as advance, graceful_stop() as stop:
        advance(state.step)
        while state.step < min(cfg.iterations, stop_at or cfg.iterations):
            ts = time.perf_counter()
            level = _level_of(state.step, cfg)
            _upsample(state, cfg, level)
            prob.set_image_factor(_image_factor(cfg, level))
            if cfg.fit_albedo and state.step in refine_steps:
                cur, _ = refine_albedo(prob.level_capture, params_to_asset(state.params, mesh), backend, passes=1,
                                       seed=cfg.seed + state.step, **_refine_settings(cfg))
                state.params["albedo"] = cur.albedo
                state.adam.reset("albedo")
            rng = np.random.default_rng([cfg.seed, state.step])
            views = rng.choice(len(capture), size=min(cfg.batch_views, len(capture)), replace=False)
            value, grads = prob.loss_and_grads(state.params, views, rng)
            warm = state.step < cfg.shared_warmup * cfg.iterations
            palette = cfg.palette_albedo > 0 and not warm and state.step < _palette_end(cfg)
            if cfg.palette_albedo > 0 and state.step == _palette_end(cfg):
                state.adam.reset("albedo")  # moments sized by the prior's pull would slow the data's
            tr = state.params["albedo"].shape[0]
            if palette and tr not in coverage:
                coverage[tr] = uv_coverage(mesh, tr)
            value += regularize(state.params, grads, cfg, coverage[tr] if palette else None)
            for k in frozen:
                grads.pop(k, None)
            if warm:
                for k in ("albedo", "roughness", "metallic"):
                    if k in grads:
                        grads[k][:] = grads[k].mean((0, 1), keepdims=True)
            lr_scale = cfg.lr_decay ** (state.step / max(cfg.iterations - 1, 1))
            state.adam.step(state.params, grads, lr_scale)
            _project(state.params, cfg)
            state.step += 1
            if state.step > (1 - cfg.average_last) * cfg.iterations:
                state.accumulate()
            state.losses.append(value)
            step_times.append((level, time.perf_counter() - ts))
            advance(1, loss=f"{value:.4f}", level=level)
            periodic = cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0
            if checkpoint_dir and (periodic or stop.requested):  # Ctrl-C / SIGTERM: checkpoint, then stop
                save_checkpoint(checkpoint_dir, state, cfg)
            if stop.requested:
                raise Interrupted("material", state.step, cfg.iterations, checkpoint_dir)
    if checkpoint_dir and cfg.checkpoint_every:
        save_checkpoint(checkpoint_dir, state, cfg)
    asset, refine_info = state_to_asset(state, mesh), {}
    if cfg.refine_passes and cfg.fit_albedo:  # after the last checkpoint: a resume redoes it
        with graceful_stop() as stop:
            def check_stop():
                if stop.requested:
                    raise Interrupted("material", state.step, cfg.iterations, checkpoint_dir)

            asset, st = refine_albedo(capture, asset, backend, passes=cfg.refine_passes, seed=cfg.seed, reporter=rep,
                                      check_stop=check_stop, **_refine_settings(cfg))
        refine_info = {"refine_seconds": round(st.seconds, 2), "refine_change": [round(c, 5) for c in st.change]}
    total = time.perf_counter() - t0
    finest = [t for lv, t in step_times if lv == cfg.levels - 1]
    sps = float(np.median(finest)) if finest else 0.0  # seconds per step at full resolution
    info = {"stage": "material", "config": to_dict(cfg), "seconds": round(total, 2),
            "seconds_per_step": round(sps, 4), "primal_render_seconds": round(primal, 4),
            "final_loss": state.losses[-1] if state.losses else None, **refine_info}
    return MaterialResult(replace(asset, info=info), state.losses, total, sps, primal)


