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
to the data under that light -- unless the albedo measured there is a few flat materials
(``palette_keep_share``), which keep the prior to the end against the last level's speckle; (3) edge-preserving TV-L1 on the textures, under which
low-frequency shading baked into albedo costs as much as a sharp edge; (4) smoothness of the
light's colour (``tv_env_chroma``), so a part of the light seen by few surfaces (the ground under
spot, seen by its udder) cannot take on a cast for the albedo to undo; (5) the optional
``white_balance`` prior on the light's mean colour. The light learns fast (``lr_env``): along
the ambiguity its gradient is weak. At the steps ``refine_at`` (the end of the warm-up and each
level switch) the albedo is re-solved under the current light by one multiplicative ratio pass
(:mod:`relight.material.refine`), which moves dim, rarely seen texels that gradient steps leave behind. The remaining global per-channel scale is not observable
and is removed by the evaluation protocol (:mod:`relight.evaluation.evaluate`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from relight.data.asset import Asset
from relight.data.capture import Capture
from relight.data.mesh import Mesh
from relight.material.albedo import (
    DETAIL,
    albedo_of,
    project_detail,
    resolve_into,
    shrink,
    split_gradient,
)
from relight.material.config import MaterialConfig
from relight.material.losses import (
    latlong_weights,
    palette_centers,
    palette_l1,
    palette_residual,
    solid_angle_l1,
    tv_chroma,
    tv_l1,
    tv_l2,
    white_balance,
)
from relight.material.optim import multiscale_gradient
from relight.material.pilot import choose_light, light_config, pilot_end
from relight.material.problem import RenderProblem, compensated, view_log_gains
from relight.material.refine import refine_albedo
from relight.material.state import (
    MaterialState,
    image_factor,
    init_state,
    load_checkpoint,
    params_to_asset,
    resample_to_level,
    save_checkpoint,
    state_to_asset,
)
from relight.material.uv import texture_side, uv_coverage
from relight.runtime.backend import Backend
from relight.runtime.config import to_dict
from relight.runtime.errors import RelightError, require_finite
from relight.runtime.interrupt import Interrupted, graceful_stop
from relight.runtime.loop import Schedule, run_loop
from relight.runtime.progress import Reporter


@dataclass(frozen=True)
class MaterialResult:
    asset: Asset
    losses: list[float]
    seconds: float
    seconds_per_step: float
    primal_seconds: float
    """Wall time of one plain render of one training view at the same spp (no gradients)."""


def _refine_settings(cfg: MaterialConfig) -> dict:
    """The keyword arguments of :func:`relight.material.refine.refine_albedo` that the config sets."""
    return {"spp": cfg.refine_spp, "max_depth": cfg.max_depth, "damping": cfg.refine_damping,
            "blur": cfg.refine_blur, "colour_sigma": cfg.refine_colour_sigma}


def _palette_held(cfg: MaterialConfig, state: MaterialState) -> bool:
    """Whether the palette prior stays on past ``palette_until``: the albedo measured there was a
    few flat materials (``palette_keep_share``)."""
    return state.palette_share is not None and state.palette_share < cfg.palette_keep_share


def _palette_end(cfg: MaterialConfig) -> int:
    """First step without the palette prior (unless ``palette_keep_share`` keeps it on)."""
    return int(np.ceil(cfg.palette_until * cfg.iterations))


def _project(p: dict[str, np.ndarray], cfg: MaterialConfig) -> None:
    np.clip(p["albedo"], 0.0, 1.0, out=p["albedo"])
    np.clip(p["roughness"], cfg.min_roughness, 1.0, out=p["roughness"])
    if "metallic" in p:
        np.clip(p["metallic"], 0.0, 1.0, out=p["metallic"])
    np.clip(p["log_env"], -12.0, 12.0, out=p["log_env"])
    if "env_detail" in p:
        np.clip(p["env_detail"], -12.0, 12.0, out=p["env_detail"])
    project_detail(p)


def regularize(p: dict[str, np.ndarray], grads: dict[str, np.ndarray], cfg: MaterialConfig,
               albedo_mask: np.ndarray | None = None) -> float:
    """Add the weighted regularizer gradients to ``grads`` in place; return their total value.

    The albedo's priors (palette, TV) act on the albedo rendered (:func:`relight.material.albedo.albedo_of`),
    their gradients split between its parameters; ``albedo_mask`` (H, W) bool, at that albedo's side:
    texels in use (:func:`relight.material.uv.uv_coverage`); the palette prior acts only when it is given."""
    value = 0.0
    albedo = albedo_of(p)  # the albedo priors act on the albedo rendered, through both its parameters
    if cfg.palette_albedo > 0 and albedo_mask is not None and albedo_mask.shape == albedo.shape[:2]:
        centers = palette_centers(albedo, albedo_mask, cfg.palette_size, cfg.seed)
        v, g = palette_l1(albedo, albedo_mask, centers)
        for k, gk in split_gradient(g, p).items():
            grads[k] += cfg.palette_albedo * gk
        value += cfg.palette_albedo * v
    tv = tv_l1 if cfg.tv_norm == "l1" else tv_l2
    if cfg.tv_albedo > 0:
        v, g = tv(albedo)
        for k, gk in split_gradient(g, p).items():
            grads[k] += cfg.tv_albedo * gk
        value += cfg.tv_albedo * v
    terms = [("roughness", cfg.tv_roughness, lambda x: tv(x)),
             ("log_env", cfg.tv_env, lambda x: tv_l2(x, wrap_x=True)), ("log_env", cfg.tv_env_chroma, tv_chroma),
             ("log_env", cfg.white_balance, lambda x: white_balance(x, latlong_weights(*x.shape[:2]))),
             ("env_detail", cfg.env_detail_l1, solid_angle_l1)]  # the light's residual, when there is one
    for key, w, fn in terms:
        if w > 0 and key in p:
            v, g = fn(p[key])
            grads[key] += w * g
            value += w * v
    return value


class _MaterialFit:
    """The material stage's side of :func:`relight.runtime.loop.run_loop`: its step and state."""

    name = "material"

    def __init__(self, capture: Capture, mesh: Mesh, cfg: MaterialConfig, backend: Backend, state: MaterialState,
                 prob: RenderProblem, inputs: dict | None):
        self.capture, self.mesh, self.cfg, self.backend, self.inputs = capture, mesh, cfg, backend, inputs
        self.state, self.prob = state, prob
        self.frozen = {k for k, on in (("albedo", cfg.fit_albedo), ("roughness", cfg.fit_roughness),
                                       ("metallic", cfg.fit_roughness), ("log_env", cfg.fit_envmap), (DETAIL, cfg.fit_albedo),
                                       ("env_detail", cfg.fit_envmap)) if not on}
        self.refine_steps = {int(round(x * cfg.iterations)) for x in cfg.refine_at}
        self.coverage: dict[int, np.ndarray] = {}  # texels in use, per texture resolution

    def texels(self, side: int) -> np.ndarray:
        """The atlas' texels in use at a texture ``side`` (cached)."""
        if side not in self.coverage:
            self.coverage[side] = uv_coverage(self.mesh, side)
        return self.coverage[side]

    def enter_level(self, level: int) -> None:
        resample_to_level(self.state, light_config(self.cfg, self.state), level)
        self.prob.set_image_factor(image_factor(self.cfg, level, self.capture.resolution))

    def step(self, step: int, rng: np.random.Generator, lr_scale: float) -> float:
        cfg, state, mesh = self.cfg, self.state, self.mesh
        if cfg.fit_albedo and step in self.refine_steps:
            cur, _ = refine_albedo(compensated(self.prob.level_capture, state.log_ratios),
                                   params_to_asset(state.params, mesh), self.backend,
                                   passes=1, seed=cfg.seed + step, **_refine_settings(cfg))
            resolve_into(state.params, cur.albedo)
            state.adam.reset("albedo")
            state.adam.reset(DETAIL)
        views = rng.choice(len(self.capture), size=min(cfg.batch_views, len(self.capture)), replace=False)
        warm = step < cfg.shared_warmup * cfg.iterations
        # gains wait for the warm-up: a uniform first light would make them absorb its shading
        value, grads = self.prob.loss_and_grads(state.params, views, rng, fit_gains=not warm)
        tr = state.params.get(DETAIL, state.params["albedo"]).shape[0]  # the side of the albedo rendered
        end = _palette_end(cfg)
        if cfg.palette_albedo > 0 and cfg.palette_keep_share > 0 and step == end and state.palette_share is None:
            # after this step's re-solve (refine_at), if any: the albedo the data ask for under this light
            albedo = albedo_of(state.params)
            centers = palette_centers(albedo, self.texels(tr), cfg.palette_size, cfg.seed)
            state.palette_share = palette_residual(albedo, self.texels(tr), centers)
        kept = _palette_held(cfg, state)
        palette = cfg.palette_albedo > 0 and not warm and (step < end or kept)
        if cfg.palette_albedo > 0 and step == end and not kept:
            state.adam.reset("albedo")  # moments sized by the prior's pull would slow the data's
            state.adam.reset(DETAIL)
        value += regularize(state.params, grads, cfg, self.texels(tr) if palette else None)
        for k in self.frozen:
            grads.pop(k, None)
        scales = light_config(cfg, state).env_multiscale
        if scales and "log_env" in grads:
            grads["log_env"] = multiscale_gradient(grads["log_env"], scales)
        if warm:
            for k in ("albedo", "roughness", "metallic"):
                if k in grads:
                    grads[k][:] = grads[k].mean((0, 1), keepdims=True)
            grads.pop(DETAIL, None)  # spatially constant albedo: no residual yet
        state.adam.step(state.params, grads, lr_scale)
        if DETAIL in grads:  # the albedo residual's L1 prior, as a proximal step
            shrink(state.params[DETAIL], cfg.albedo_detail_shrink * cfg.lr_albedo * lr_scale)
        _project(state.params, cfg)
        state.step = step + 1
        if state.step > (1 - cfg.average_last) * cfg.iterations:
            state.accumulate()
        return value

    def progress(self) -> dict:
        return {}

    def save_checkpoint(self, path: Path, step: int, level: int, losses: list[float]) -> None:
        save_checkpoint(path, self.state, self.cfg, self.inputs)


def with_texel_density(cfg: MaterialConfig, capture: Capture, mesh: Mesh) -> MaterialConfig:
    """``cfg`` with ``tex_res`` (or, when set, ``albedo_detail_res``) raised per ``texel_px``
    (:func:`relight.material.uv.texture_side`) for ``mesh``'s atlas seen in ``capture`` at the
    finest level; unchanged when ``texel_px`` is 0.
    The side stays a multiple of 16 texels at the coarsest level."""
    if cfg.texel_px <= 0:
        return cfg
    f = cfg.finest_factor(*capture.resolution)
    cams = [c.downscaled(f) for c in capture.cameras] if f > 1 else capture.cameras
    key = "albedo_detail_res" if cfg.albedo_detail_res else "tex_res"  # with a residual, only its side
    side = texture_side(mesh, cams, cfg.texel_px, getattr(cfg, key), cfg.largest_tex_res, 16 * 2 ** (cfg.levels - 1))
    return replace(cfg, **{key: side})


def fit_material(capture: Capture, mesh: Mesh, cfg: MaterialConfig, backend: Backend, *,
                 checkpoint_dir: Path | None = None, resume: bool = False,
                 reporter: Reporter | None = None, stop_at: int | None = None,
                 init: Asset | None = None, inputs: dict | None = None) -> MaterialResult:
    """Fit textures and envmap of ``mesh`` (with UVs) to ``capture``; returns the asset.

    ``inputs`` (:func:`relight.runtime.fingerprint.run_fingerprint`) is recorded in checkpoints, and
    a resume from a checkpoint written for other inputs is refused.

    ``stop_at`` ends the run after that many steps as an interruption would (checkpoint written),
    so that a later call with ``resume=True`` continues it.
    """
    import drjit as dr  # only once the backend has pinned libLLVM (relight.runtime.backend)

    rep = reporter or Reporter()
    if mesh.uvs is None:
        raise RelightError("mesh has no UVs", fix="unwrap it first (relight.material.uv.unwrap)")
    before = cfg
    cfg = with_texel_density(cfg, capture, mesh)
    if cfg.tex_res != before.tex_res:
        rep.log(f"textures {cfg.tex_res}² (texels at most {cfg.texel_px:g} px wide; tex_res {before.tex_res})")
    if cfg.albedo_detail_res != before.albedo_detail_res:
        rep.log(f"albedo residual {cfg.albedo_detail_res}² over the {cfg.tex_res}² textures "
                f"(texels at most {cfg.texel_px:g} px wide)")
    state = load_checkpoint(checkpoint_dir, cfg, inputs) if resume and checkpoint_dir else init_state(cfg, init)
    schedule = Schedule.of(cfg)
    resample_to_level(state, light_config(cfg, state), schedule.level(state.step))
    threads_before = dr.thread_count()
    if backend.device == "cpu":
        dr.set_thread_count(cfg.threads or (os.cpu_count() or 1))
    try:
        return _fit(capture, mesh, cfg, backend, state, schedule, checkpoint_dir, rep, stop_at, inputs, init)
    finally:
        dr.set_thread_count(threads_before)


def _fit(capture: Capture, mesh: Mesh, cfg: MaterialConfig, backend: Backend, state: MaterialState,
         schedule: Schedule, checkpoint_dir: Path | None, rep: Reporter, stop_at: int | None,
         inputs: dict | None, init: Asset | None) -> MaterialResult:
    import drjit as dr  # only once the backend has pinned libLLVM (relight.runtime.backend)

    gains_on = capture.view_gain_mode(cfg.view_gains) != "off"
    if gains_on and (state.log_ratios is None or len(state.log_ratios) != len(capture)):
        state.log_ratios = np.full((len(capture), 3), np.nan)
    prob = RenderProblem(capture, mesh, cfg, backend, state.params, state.log_ratios)
    t0 = time.perf_counter()  # primal timing below is at the finest level (image_res)
    for seed in (0, 1):  # the second call is compiled already: its time is the primal cost
        t = time.perf_counter()
        prob.render(state.params, 0, seed)
        dr.sync_thread()
        primal = time.perf_counter() - t
    stage = _MaterialFit(capture, mesh, cfg, backend, state, prob, inputs)
    resuming = state.step > 0
    pilot = pilot_end(schedule) if cfg.compact_pilot and state.light_concentration is None else None
    if pilot is not None and (stop_at is None or stop_at >= pilot):
        run_loop(stage, schedule, step=state.step, level=schedule.level(state.step), losses=state.losses,
                 checkpoint_dir=checkpoint_dir, stop_at=pilot, reporter=rep, resuming=resuming)
        choose_light(state, cfg, init, rep)
        resuming = False
    loop = run_loop(stage, schedule, step=state.step, level=schedule.level(state.step), losses=state.losses,
                    checkpoint_dir=checkpoint_dir, stop_at=stop_at, reporter=rep, resuming=resuming)
    asset, refine_info = state_to_asset(state, mesh), {}
    if cfg.refine_passes and cfg.fit_albedo:  # after the last checkpoint: a resume redoes it
        with graceful_stop() as stop:
            def check_stop():
                if stop.requested:
                    raise Interrupted("material", state.step, cfg.iterations, checkpoint_dir)

            prob.set_image_factor(cfg.finest_factor(*capture.resolution))  # the finest level's views
            asset, st = refine_albedo(compensated(prob.level_capture, state.log_ratios), asset, backend,
                                      passes=cfg.refine_passes, seed=cfg.seed, reporter=rep, check_stop=check_stop,
                                      **_refine_settings(cfg))
        refine_info = {"refine_seconds": round(st.seconds, 2), "refine_change": [round(c, 5) for c in st.change]}
    require_finite({"albedo": asset.albedo, "roughness": asset.roughness, "envmap": asset.envmap,
                    "metallic": asset.metallic}, "material", "lower lr_env / lr_albedo in a --config TOML")
    total = time.perf_counter() - t0
    sps = loop.seconds_per_step  # at the finest level
    info = {"stage": "material", "config": to_dict(cfg), "seconds": round(total, 2),
            "seconds_per_step": round(sps, 4), "primal_render_seconds": round(primal, 4),
            "final_loss": state.losses[-1] if state.losses else None, **refine_info}
    if state.light_concentration is not None:
        info["light_concentration"] = round(state.light_concentration, 4)
    if state.palette_share is not None:
        info["palette_share"] = round(state.palette_share, 4)
        rep.log(f"albedo palette residual {state.palette_share:.3f} (flat materials below {cfg.palette_keep_share:g}): "
                + ("the palette prior held to the end" if _palette_held(cfg, state)
                   else f"the palette prior ended at {cfg.palette_until:.0%}"))
    if DETAIL in state.params:  # how much of the albedo the residual holds at the last step
        d = state.params[DETAIL]
        info["albedo_detail"] = {"side": d.shape[0], "nonzero_share": round(float((d != 0).any(-1).mean()), 4),
                                 "rms": round(float(np.sqrt(np.square(d).mean())), 5)}
    if state.log_ratios is not None:
        info["view_gains"] = {"mode": prob.gain_mode,  # resolved once, by the problem
                              "per_view": {n: np.round(np.exp(g), 4).tolist() for n, g in
                                           zip(capture.names, view_log_gains(state.log_ratios), strict=True)}}
    return MaterialResult(replace(asset, info=info), state.losses, total, sps, primal)
