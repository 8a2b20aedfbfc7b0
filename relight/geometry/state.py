"""Optimization state of the geometry stage and its checkpoints.

:class:`GeometryState` holds one level's Large Steps solver, differential coordinates, per-vertex
colours and both optimizers; :func:`save_checkpoint` / :func:`load_checkpoint` write and read it
(with the optimizer moments, so a resumed run continues the same trajectory) as one atomic
``geom.npz`` — no pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from relight.data.mesh import unique_edges
from relight.geometry.config import GeometryConfig
from relight.geometry.largesteps import LaplacianSolver, UniformAdam
from relight.geometry.losses import consistency_weights, sh_shading, vertex_normals
from relight.geometry.raster import Raster
from relight.runtime.config import to_dict
from relight.runtime.errors import RelightError
from relight.runtime.fingerprint import check_fingerprint
from relight.runtime.paths import read_checkpoint, write_checkpoint


class GeometryState:
    """Optimization state of one level: solver, differential coordinates, colours, optimizers,
    and the mesh topology in the raster context's form (built once per level)."""

    def __init__(self, verts: np.ndarray, faces: np.ndarray, colors: np.ndarray, cfg: GeometryConfig,
                 raster: Raster, gains: tuple[int, int] = (0, 0)):
        device = raster.device
        self.faces_np = faces
        self.faces = torch.tensor(faces, dtype=torch.int32, device=device)
        self.topology = raster.construct_topology_hash(self.faces)
        self.solver = LaplacianSolver(faces, len(verts), cfg.lam, str(device))
        x = torch.tensor(verts, dtype=torch.float32, device=device)
        self.u = self.solver.to_differential(x).requires_grad_(True)
        self.c = torch.tensor(colors, dtype=torch.float32, device=device).requires_grad_(True)
        self.opt_u = UniformAdam([self.u], lr=cfg.lr)
        self.opt_c = torch.optim.Adam([self.c], lr=cfg.lr_color)
        # the shading light's spherical-harmonic coefficients (cfg.shading; zero = unshaded) and the
        # mesh's edges (for the colour's total variation)
        self.sh = torch.zeros(8, 3, device=device, requires_grad=True)
        self.opt_sh = torch.optim.Adam([self.sh], lr=cfg.lr_color)
        self.edges = torch.tensor(unique_edges(faces), dtype=torch.long, device=device)
        # per-view log colour factors, (views, channels) of ``gains`` (cfg.view_gains; (0, 0): off)
        self.g = torch.zeros(*gains, device=device, requires_grad=True)
        self.opt_g = torch.optim.Adam([self.g], lr=cfg.lr_color)
        # photo-consistency statistics (relight.geometry.losses.consistency_weights): running sums
        # of each vertex's squared colour residual and pixel weight, and this level's step count
        self.err = torch.zeros(len(verts), device=device)
        self.obs = torch.zeros(len(verts), device=device)
        self.steps = 0

    def photo_weights(self, cfg: GeometryConfig) -> torch.Tensor:
        """(V,) the vertices' photo-consistency weights now: all ones while the weighting is off or
        in its warm-up (:func:`relight.geometry.losses.consistency_weights`)."""
        on = cfg.photo_consistency > 0 and self.steps >= cfg.consistency_warmup
        return consistency_weights(self.err, self.obs, cfg.photo_consistency if on else 0.0)

    def _factors(self) -> torch.Tensor:
        """(N, C) every view's colour factor: exp of its log gain, centred on the views' mean."""
        return torch.exp(self.g - self.g.mean(0))

    def view_factors(self, views: torch.Tensor) -> torch.Tensor | float:
        """(B, 1, 1, C) the colour factors of ``views`` (1.0 when the gains are off)."""
        if self.g.numel() == 0:
            return 1.0
        return self._factors()[views.to(self.g.device)][:, None, None, :]

    def gains_numpy(self) -> np.ndarray | None:
        """(N, C) every view's fitted colour factor (None when off)."""
        if self.g.numel() == 0:
            return None
        with torch.no_grad():
            return self._factors().cpu().numpy()

    def verts(self) -> torch.Tensor:
        return self.solver.from_differential(self.u)

    def appearance(self) -> np.ndarray:
        """(V, 3) the view-independent sRGB colour of each vertex: the fitted colour, shaded at the
        vertex normal by the fitted light (the light is zero, so the colour is its own, without
        ``shading``)."""
        with torch.no_grad():
            v = self.verts()
            shade = sh_shading(vertex_normals(v, self.faces), self.sh)
            return (self.c * shade).clamp(0, 1).cpu().numpy()

    def numpy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with torch.no_grad():
            return (self.verts().cpu().numpy(), self.faces_np, self.c.detach().clamp(0, 1).cpu().numpy())


def _optimizers(st: GeometryState) -> tuple:
    """(name, optimizer, parameter) of each Adam state a checkpoint holds."""
    return (("opt_u", st.opt_u, st.u), ("opt_c", st.opt_c, st.c), ("opt_sh", st.opt_sh, st.sh),
            ("opt_g", st.opt_g, st.g))


def save_checkpoint(path: Path, step: int, level: int, losses: list[float], st: GeometryState, cfg: GeometryConfig,
                    inputs: dict | None = None) -> None:
    """Atomic ``geom.npz``: mesh, colours (the shaded appearance; ``c_raw`` the fitted colour) and
    the full optimizer state (differential coordinates, the shading light, the views' colour
    factors, the four Adam states), so that a resumed run continues exactly where it stopped.
    No pickle."""
    v, f, _ = st.numpy()
    arrays = {"verts": v, "faces": f, "colors": st.appearance(), "u": st.u.detach().cpu().numpy(),
              "c_raw": st.c.detach().cpu().numpy(), "sh": st.sh.detach().cpu().numpy(),
              "gains": st.g.detach().cpu().numpy(),
              "pc_err": st.err.cpu().numpy(), "pc_obs": st.obs.cpu().numpy(), "pc_steps": np.asarray(st.steps)}
    for name, opt, param in _optimizers(st):
        for k, val in opt.state.get(param, {}).items():
            arrays[f"{name}/{k}"] = val.detach().cpu().numpy() if torch.is_tensor(val) else np.asarray(val)
    meta = {"step": step, "level": level, "losses": losses, "config": to_dict(cfg)}
    if inputs is not None:
        meta["inputs"] = inputs
    write_checkpoint(path, "geom", arrays, meta)


@dataclass
class GeometryCheckpoint:
    verts: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    step: int
    level: int
    losses: list[float]
    arrays: dict


def load_checkpoint(path: Path, cfg: GeometryConfig, inputs: dict | None = None) -> GeometryCheckpoint:
    """The checkpoint in ``path``, refused when written with another config or (given ``inputs``,
    see :mod:`relight.runtime.fingerprint`) for other inputs."""
    z, meta = read_checkpoint(path, "geom")
    if meta.get("config") != to_dict(cfg):
        raise RelightError("checkpoint was written with another configuration", path=path / "geom.npz",
                           fix="resume with the same options, or start afresh without --resume")
    check_fingerprint(meta.get("inputs"), inputs, path / "geom.npz")
    return GeometryCheckpoint(z["verts"], z["faces"], z["colors"], int(meta["step"]), int(meta["level"]),
                              list(meta["losses"]), z)


def restore_state(st: GeometryState, ck: GeometryCheckpoint) -> None:
    """Put the saved differential coordinates, colours and Adam moments back into ``st``."""
    z = ck.arrays
    if "u" not in z:
        return
    with torch.no_grad():
        st.u.copy_(torch.from_numpy(z["u"]))
        st.c.copy_(torch.from_numpy(z["c_raw"]))
        st.err.copy_(torch.from_numpy(z["pc_err"]))
        st.obs.copy_(torch.from_numpy(z["pc_obs"]))
        if "sh" in z:
            st.sh.copy_(torch.from_numpy(z["sh"]))
        if "gains" in z:  # written since the factors exist; same config and inputs, so same shape
            st.g.copy_(torch.from_numpy(z["gains"]))
    st.steps = int(z["pc_steps"])
    for name, opt, param in _optimizers(st):
        state = {}
        for key in [k.split("/", 1)[1] for k in z if k.startswith(name + "/")]:
            a = z[f"{name}/{key}"]
            if key == "t":
                state[key] = int(a)
            elif key == "step":  # torch.optim.Adam keeps its step as a float tensor
                state[key] = torch.tensor(float(a))
            else:
                state[key] = torch.from_numpy(a).to(param.device)
        if state:
            opt.state[param] = state
