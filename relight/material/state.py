"""Optimization state of the material stage and its checkpoints.

:class:`MaterialState` holds the parameters (albedo, roughness, optional metallic textures and the
log envmap), the Adam moments, the step count, the loss history and the running (Polyak) means;
:func:`save_checkpoint` / :func:`load_checkpoint` write and read it as one atomic ``ckpt.npz``
(arrays + JSON metadata, no pickle), so a resumed run continues the same trajectory. Resolutions
follow the coarse-to-fine level (:func:`texture_res`, :func:`resample_to_level`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from relight.data.asset import Asset
from relight.data.images import resize_area
from relight.data.mesh import Mesh
from relight.material.albedo import DETAIL, albedo_of, resolve_into
from relight.material.config import MaterialConfig
from relight.material.light import light_log, upsample
from relight.material.optim import Adam
from relight.runtime.config import to_dict
from relight.runtime.errors import RelightError
from relight.runtime.fingerprint import check_fingerprint
from relight.runtime.paths import read_checkpoint, write_checkpoint


@dataclass
class MaterialState:
    """Everything needed to resume: parameters, optimizer moments, step, loss history."""

    params: dict[str, np.ndarray]
    adam: Adam
    step: int = 0
    losses: list[float] = field(default_factory=list)
    avg: dict[str, np.ndarray] = field(default_factory=dict)
    avg_count: int = 0
    log_ratios: np.ndarray | None = None
    """(N, 3) per-view measured log ratios photo / render (``view_gains``; NaN = not measured
    yet; :func:`relight.material.problem.view_log_gains` makes the gains), None when off."""
    light_concentration: float | None = None
    """The light's :func:`relight.material.light.concentration` at the end of the pilot (the
    levels before the last), with ``env_compact_width`` set (None before;
    :func:`relight.material.pilot.light_config` reads it)."""
    palette_share: float | None = None
    """The albedo's :func:`relight.material.losses.palette_residual` at ``palette_until`` with
    ``palette_keep_share`` set (None before): below that share the palette prior stays on."""

    def accumulate(self) -> None:
        """Add the current parameters to the running mean (restarting on a resolution change).

        The envmap is averaged as radiance, not log radiance: the mean of ``log_env`` is the
        *geometric* mean, biased dark for a jittering light (the asset rendered 11-19 % dark on spot).
        It is the light rendered (:func:`relight.material.light.light_log`) that is averaged, kept
        under ``log_env``, and likewise the albedo rendered (:func:`relight.material.albedo.albedo_of`)
        under ``albedo``."""
        cur = {k: v for k, v in self.params.items() if k not in ("log_env", "env_detail", DETAIL)}
        cur["log_env"] = np.exp(light_log(self.params))
        cur["albedo"] = albedo_of(self.params)
        if any(self.avg.get(k, v).shape != v.shape for k, v in cur.items()):
            self.avg, self.avg_count = {}, 0
        self.avg_count += 1
        w = 1.0 / self.avg_count
        for k, x in cur.items():
            self.avg[k] = x.copy() if self.avg_count == 1 else ((1 - w) * self.avg[k] + w * x).astype(np.float32)

    def output(self) -> dict[str, np.ndarray]:
        """The parameters to write: the running means if averaging has started (``log_env`` as log)."""
        if not self.avg_count:
            return self.params
        return {k: (np.log(np.maximum(v, 1e-30)).astype(np.float32) if k == "log_env" else v)
                for k, v in self.avg.items()}


def image_factor(cfg: MaterialConfig, level: int, resolution: tuple[int, int]) -> int:
    """Integer downscale of a capture of ``resolution`` (h, w) at ``level`` (at the finest:
    :meth:`MaterialConfig.finest_factor`, 1 for a capture within ``image_res``)."""
    return cfg.finest_factor(*resolution) * 2 ** (cfg.levels - 1 - level)


def texture_res(cfg: MaterialConfig, level: int) -> tuple[int, int]:
    """(texture side, envmap width) of ``level``."""
    f = 2 ** (cfg.levels - 1 - level)
    return max(4, cfg.tex_res // f), max(8, cfg.env_width // f)


def _shapes(cfg: MaterialConfig, level: int) -> dict[str, tuple[int, int]]:
    """(height, width) of each parameter at ``level`` (``env_detail``: only when configured)."""
    tr, ew = texture_res(cfg, level)
    out = {"albedo": (tr, tr), "roughness": (tr, tr), "metallic": (tr, tr), "log_env": (ew // 2, ew)}
    if cfg.env_detail_width:
        dw = max(16, cfg.env_detail_width // 2 ** (cfg.levels - 1 - level))
        out["env_detail"] = (dw // 2, dw)
    if cfg.albedo_detail_res:
        ds = max(4, cfg.albedo_detail_res // 2 ** (cfg.levels - 1 - level))
        out[DETAIL] = (ds, ds)
    return out


def init_state(cfg: MaterialConfig, init: Asset | None = None) -> MaterialState:
    """Uniform initial parameters at the coarsest level, or those of ``init`` resampled."""
    tr, ew = texture_res(cfg, 0)
    p = {"albedo": np.full((tr, tr, 3), cfg.init_albedo, np.float32),
         "roughness": np.full((tr, tr, 1), cfg.init_roughness, np.float32),
         "log_env": np.full((ew // 2, ew, 3), np.log(cfg.init_env), np.float32)}
    if cfg.metallic:
        p["metallic"] = np.full((tr, tr, 1), 0.0, np.float32)
    detail = _shapes(cfg, 0).get("env_detail")  # (height, width) of the light's residual, if any
    if detail:
        p["env_detail"] = np.zeros((*detail, 3), np.float32)
    if DETAIL in _shapes(cfg, 0):  # the albedo's residual starts at zero
        p[DETAIL] = np.zeros((*_shapes(cfg, 0)[DETAIL], 3), np.float32)
    if init is not None:
        p["albedo"] = resize_area(init.albedo, tr, tr)
        p["roughness"] = resize_area(init.roughness[..., None], tr, tr)
        p["log_env"] = np.log(np.maximum(resize_area(init.envmap, ew // 2, ew), 1e-6))
        if detail:  # what the coarse light misses of init's light, at the residual's width
            fine = np.log(np.maximum(resize_area(init.envmap, *detail), 1e-6))
            p["env_detail"] = fine - upsample(p["log_env"], detail)
        if DETAIL in p:  # what the coarse texture misses of init's albedo, at the residual's side
            resolve_into(p, resize_area(init.albedo, *p[DETAIL].shape[:2]))
        if cfg.metallic and init.metallic is not None:
            p["metallic"] = resize_area(init.metallic[..., None], tr, tr)
        p = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in p.items()}
    lrs = {"albedo": cfg.lr_albedo, "roughness": cfg.lr_roughness, "log_env": cfg.lr_env, "metallic": cfg.lr_roughness,
           "env_detail": cfg.lr_env_detail, DETAIL: cfg.lr_albedo}
    return MaterialState(p, Adam(lrs, masked=("albedo", "roughness", "metallic", DETAIL),
                                 floors={"log_env": cfg.env_step_floor}))


def resample_to_level(state: MaterialState, cfg: MaterialConfig, level: int) -> None:
    """Area-resample parameters and Adam moments to ``level``'s resolutions (no-op when there)."""
    shapes = _shapes(cfg, level)
    for k, a in list(state.params.items()):
        shape = shapes[k]
        if a.shape[:2] != shape:
            state.params[k] = np.ascontiguousarray(resize_area(a, *shape), dtype=np.float32)
            state.adam.resample(k, lambda x, shape=shape: resize_area(x, *shape))


def state_to_asset(state: MaterialState, mesh: Mesh, info: dict | None = None) -> Asset:
    """The asset of the output parameters (the running means once averaging has started)."""
    return params_to_asset(state.output(), mesh, info)


def params_to_asset(p: dict[str, np.ndarray], mesh: Mesh, info: dict | None = None) -> Asset:
    return Asset(mesh, np.array(albedo_of(p), np.float32), p["roughness"][..., 0].copy(), np.exp(light_log(p)).astype(np.float32),
                 p["metallic"][..., 0].copy() if "metallic" in p else None, 0.0, info or {})


def save_checkpoint(path: Path, state: MaterialState, cfg: MaterialConfig, inputs: dict | None = None) -> None:
    """Atomic ``ckpt.npz`` (parameters, Adam state, running means + JSON metadata; no pickle)."""
    arrays = ({f"p/{k}": v for k, v in state.params.items()} | {f"adam/{k}": v for k, v in state.adam.state().items()}
              | {f"avg/{k}": v for k, v in state.avg.items()}
              | ({"ratios": state.log_ratios} if state.log_ratios is not None else {}))
    meta = {"step": state.step, "losses": state.losses, "config": to_dict(cfg), "avg_count": state.avg_count,
            "light_concentration": state.light_concentration, "palette_share": state.palette_share}
    if inputs is not None:
        meta["inputs"] = inputs
    write_checkpoint(path, "ckpt", arrays, meta)


def load_checkpoint(path: Path, cfg: MaterialConfig, inputs: dict | None = None) -> MaterialState:
    """The state in ``path``, refused when written with another config or (given ``inputs``, see
    :mod:`relight.runtime.fingerprint`) for other inputs."""
    z, meta = read_checkpoint(path, "ckpt")
    if meta.get("config") != to_dict(cfg):
        raise RelightError("checkpoint was written with another configuration", path=path / "ckpt.npz",
                           fix="resume with the same options, or start afresh without --resume")
    check_fingerprint(meta.get("inputs"), inputs, path / "ckpt.npz")
    state = init_state(cfg)
    state.params = {k[2:]: v for k, v in z.items() if k.startswith("p/")}
    state.adam.load_state({k[5:]: v for k, v in z.items() if k.startswith("adam/")})
    state.avg = {k[4:]: v for k, v in z.items() if k.startswith("avg/")}
    state.step, state.losses = int(meta["step"]), list(meta["losses"])
    state.avg_count = int(meta.get("avg_count", 0))
    state.light_concentration = meta.get("light_concentration")
    state.palette_share = meta.get("palette_share")
    state.log_ratios = np.array(z["ratios"]) if "ratios" in z else None
    return state
