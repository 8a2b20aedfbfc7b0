"""The differentiable rendering side of the material stage: Mitsuba scene, sensors, targets,
and the image loss with its gradients w.r.t. every parameter array (``prb``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from relight.data.asset import Asset
from relight.data.capture import Capture
from relight.data.mesh import Mesh
from relight.data.views import ViewArray
from relight.material import albedo as albedo_split
from relight.material.config import MaterialConfig
from relight.material.light import light_log, split_gradient
from relight.material.losses import log_l1, relative_l2, relative_weight
from relight.render.mitsuba import KA, KE, KM, KR, build_scene, sensor, turn_light
from relight.runtime.backend import Backend


def _pad_index(h: int, w: int) -> np.ndarray:
    """Gather indices building Mitsuba's envmap layout (H, W + 2, 3): wrap columns at both ends."""
    cols = (np.arange(w + 2) - 1) % w
    idx = (np.arange(h)[:, None, None] * w + cols[None, :, None]) * 3 + np.arange(3)[None, None, :]
    return idx.ravel().astype(np.uint32)


GAIN_RATE = 0.3
"""Share of the way a view's log ratio (photo / render) moves to a new measurement each time the
view is rendered (an exponential moving average over its visits, against Monte Carlo noise)."""


def view_log_gains(log_ratios: np.ndarray | None) -> np.ndarray | None:
    """(N, 3) per-view log gains from the measured log ratios (NaN = view not measured yet):
    centred so their mean over the measured views is 0 (a global scale belongs to the light and
    the albedo); 0 for views not measured."""
    if log_ratios is None:
        return None
    seen = np.isfinite(log_ratios).all(1)
    if not seen.any():
        return np.zeros_like(log_ratios)
    return np.where(seen[:, None], log_ratios - log_ratios[seen].mean(0), 0.0)


def compensated(capture: Capture, log_ratios: np.ndarray | None) -> Capture:
    """``capture`` with each view divided by its gain (photos brought to one exposure)."""
    if log_ratios is None:
        return capture
    g = np.exp(-view_log_gains(log_ratios)).astype(np.float32)
    if isinstance(capture.images, ViewArray):
        return replace(capture, images=capture.images.with_gains(g))
    return replace(capture, images=capture.images * g[:, None, None, :])


def update_ratios(log_ratios: np.ndarray, view: int, render: np.ndarray, target: np.ndarray, mask: np.ndarray,
                  mode: str, rate: float = GAIN_RATE) -> None:
    """Move ``log_ratios[view]`` (3,) towards ``log(sum(m * target) / sum(m * render))`` per channel
    (``exposure``: of the channel sums' totals, the same for all channels); the first measurement
    of a view is taken whole. ``render`` is the unscaled render (H, W, 3), linear; in place."""
    m = (mask > 0)[..., None]
    num, den = (target * m).sum((0, 1)), (render * m).sum((0, 1))
    if mode == "exposure":
        num, den = np.full(3, num.sum()), np.full(3, den.sum())
    if den.min() <= 0 or num.min() <= 0:
        return
    new = np.log(num / den)
    old = log_ratios[view]
    log_ratios[view] = new if not np.isfinite(old).all() else old + rate * (new - old)


class RenderProblem:
    """The differentiable rendering side of the stage: scene, sensors and targets.

    ``loss_and_grads`` renders views with given parameters and returns the image loss and its
    gradients with respect to each parameter array (same shapes), via Mitsuba's ``prb``.
    """

    def __init__(self, capture: Capture, mesh: Mesh, cfg: MaterialConfig, backend: Backend,
                 init: dict[str, np.ndarray], log_ratios: np.ndarray | None = None):
        mi = backend.mitsuba()
        self.mi, self.cfg = mi, cfg
        asset = Asset(mesh, albedo_split.albedo_of(init), init["roughness"][..., 0], np.exp(light_log(init)),
                      init["metallic"][..., 0] if "metallic" in init else None)
        self.scene = build_scene(backend, asset, cfg.max_depth, integrator="prb")
        self.params = mi.traverse(self.scene)
        self.capture, self.backend = capture, backend
        self.gain_mode = capture.view_gain_mode(cfg.view_gains)
        self.log_ratios = log_ratios  # (N, 3) measured per-view log ratios, updated in place; None: off
        self.factor = 0
        self.set_image_factor(cfg.finest_factor(*capture.resolution))
        self._pad: dict[tuple[int, int], object] = {}

    def set_image_factor(self, factor: int) -> None:
        """Render and compare at the capture's resolution divided by ``factor`` (area-averaged)."""
        if factor == self.factor:
            return
        self.level_capture = None  # the old level's views go before the new ones are made
        self.level_capture = self.capture.downscaled(factor)
        self.factor = factor

    def sensor(self, view: int):
        """Mitsuba sensor of ``view`` at the current level, made for each render: a sensor keeps
        its film's buffers (32 B a pixel) once rendered, so one kept per view grew a 300-view fit
        by 2.4 GB at 512² (measured); a dropped one's buffers are reused by the next."""
        return sensor(self.backend, self.level_capture.cameras[view], self.cfg.spp, pixel_format="rgb")

    def target(self, view: int) -> tuple:
        """(target image, per-pixel loss weight) of ``view`` at the current level, as Mitsuba
        tensors; made when a step needs them (the level's views are kept packed, not as tensors)."""
        mi, lc = self.mi, self.level_capture
        img, mask = lc.images[view], lc.masks[view]
        w = relative_weight(img, mask) if self.cfg.loss == "relative_l2" else (mask > 0).astype(np.float32)[..., None]
        return mi.TensorXf(np.ascontiguousarray(img, dtype=np.float32)), mi.TensorXf(np.ascontiguousarray(w))

    def _assign(self, p: dict[str, np.ndarray]) -> dict:
        """Set the scene's parameters from ``p``; returns the gradient-enabled tensors, the light's
        (:func:`relight.material.light.light_log`, the sum of its parameters) under ``log_env``, the
        albedo's (:func:`relight.material.albedo.albedo_of`) under ``albedo``."""
        import drjit as dr  # only once the backend has pinned libLLVM (relight.runtime.backend)

        mi, handles = self.mi, {}
        p = ({k: v for k, v in p.items() if k not in ("env_detail", albedo_split.DETAIL)}
             | {"log_env": light_log(p), "albedo": albedo_split.albedo_of(p)})
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

    def _turn(self, view: int) -> None:
        """A turntable capture's light for ``view`` (no-op in the world light frame)."""
        if self.capture.light_turns_deg is not None:
            turn_light(self.backend, self.params, float(self.capture.light_turns_deg[view]))

    def render(self, p: dict[str, np.ndarray], view: int, seed: int):
        """Primal render (H, W, 3) of one training view with parameters ``p`` (no gradients)."""
        import drjit as dr  # only once the backend has pinned libLLVM (relight.runtime.backend)

        self._assign(p)
        self._turn(view)
        with dr.suspend_grad():
            img = self.mi.render(self.scene, self.params, sensor=self.sensor(view), spp=self.cfg.spp, seed=seed)
            dr.eval(img)
        return img

    def loss_and_grads(self, p: dict[str, np.ndarray], views, rng: np.random.Generator, fit_gains: bool = True):
        """Image loss of ``views`` and its gradients (same shapes as ``p``); with per-view gains
        on, the views' gains then move towards their measured ratios when ``fit_gains``."""
        import drjit as dr  # only once the backend has pinned libLLVM (relight.runtime.backend)

        handles = self._assign(p)
        loss_fn = relative_l2 if self.cfg.loss == "relative_l2" else log_l1
        loss = 0.0
        renders = []
        gains = view_log_gains(self.log_ratios)
        for v in views:
            self._turn(v)
            img = self.mi.render(self.scene, self.params, sensor=self.sensor(v), spp=self.cfg.spp,
                                 spp_grad=self.cfg.spp_grad or self.cfg.spp,
                                 seed=int(rng.integers(2**31)), seed_grad=int(rng.integers(2**31)))
            renders.append(img)
            if gains is not None:  # the photo's exposure / white balance, fixed this step
                g = np.exp(gains[v]).astype(np.float32)
                img = img * self.mi.TensorXf(np.ascontiguousarray(np.broadcast_to(g, tuple(img.shape))))
            loss = loss + loss_fn(img, *self.target(v)) / len(views)
        dr.backward(loss)
        if self.log_ratios is not None and fit_gains:
            lc = self.level_capture
            for v, img in zip(views, renders, strict=True):
                update_ratios(self.log_ratios, int(v), np.array(img), lc.images[v], lc.masks[v], self.gain_mode)
        grads = {k: np.array(dr.grad(h)).reshape(tuple(h.shape)) for k, h in handles.items()}
        for g in grads.values():
            np.nan_to_num(g, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        grads.update(split_gradient(grads.pop("log_env"), p))
        grads.update(albedo_split.split_gradient(grads.pop("albedo"), p))
        return float(np.asarray(loss).ravel()[0]), grads
