"""A small Adam optimizer over named numpy arrays (checkpointable without pickle).

Gradients come from Dr.Jit (path-traced) and numpy (regularizers); keeping the optimizer state
in numpy makes checkpoints plain ``.npz`` files and resolution changes (coarse-to-fine) explicit.
"""

from __future__ import annotations

import numpy as np


def bias_correction(beta: float, t: np.ndarray) -> np.ndarray:
    """``1 - beta ** t`` without ever computing a subnormal power: past ``t`` where ``beta ** t``
    < 1e-12 the result is 1 in float32 anyway, and powers that underflow through the subnormal
    range took x86 slow paths (the Adam update went from 9 to 46 ms per step on 512² textures
    once step counts passed ~830 with beta = 0.9)."""
    cap = np.float32(np.log(1e-12) / np.log(beta))
    return 1 - beta ** np.minimum(t, cap)


def multiscale_gradient(g: np.ndarray, scales: int) -> np.ndarray:
    """``g`` plus its block means at 2, 4, ... 2**scales texels, each spread back over its block.

    For a lat-long envmap gradient (H, W, C): a texel that few pixels constrain moves with its
    neighbourhood at every scale the data agree on, while a sharp feature that the data do
    resolve (a light's reflection in a glossy surface) still gets its own fine gradient — the
    coarse levels of a pyramid, without their fixed resolution. Scales that do not divide the map
    are skipped.
    """
    out = g.astype(np.float32, copy=True)
    h, w = g.shape[:2]
    for i in range(1, scales + 1):
        s = 2 ** i
        if h % s or w % s:
            break
        m = g.reshape(h // s, s, w // s, s, *g.shape[2:]).mean(axis=(1, 3))
        out += np.repeat(np.repeat(m, s, axis=0), s, axis=1)
    return out


def floored_rms(rms: np.ndarray, floor: float) -> np.ndarray:
    """Adam's per-element gradient RMS, raised to ``floor`` x its median over the array (0: as is).

    Per-element normalization gives an element that the data rarely touch the same step size as
    a well-observed one: a rare Monte Carlo spike then moves it by about ``lr / (1 - beta1)`` in
    the spike's sign, so it random-walks, and drifts the way *most* spikes point — the median of
    a skewed path-traced estimate, not its mean. Under the floor such an element's step is
    proportional to its gradient (plain SGD, unbiased in expectation), while elements observed at
    least as well as the median one keep Adam's steps."""
    if floor <= 0:
        return rms
    return np.maximum(rms, floor * float(np.median(rms)))


class Adam:
    """Adam [Kingma & Ba 2015] with per-parameter learning rates and masked (sparse) updates.

    ``masked`` parameters only update (and advance their moments) where the gradient is
    non-zero, so texels that no pixel saw in this batch keep their state (like Mitsuba's
    ``mask_updates``).
    """

    def __init__(self, lrs: dict[str, float], beta1: float = 0.9, beta2: float = 0.99,
                 eps: float = 1e-8, masked: tuple[str, ...] = (), floors: dict[str, float] | None = None):
        self.lrs = dict(lrs)
        self.floors = dict(floors or {})
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.masked = set(masked)
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.t: dict[str, np.ndarray] = {}

    def reset(self, key: str) -> None:
        for d in (self.m, self.v, self.t):
            d.pop(key, None)

    def resample(self, key: str, fn) -> None:
        """Carry ``key``'s moments through a resolution change: ``fn`` maps an array to the new
        grid (e.g. area resampling). Unlike :meth:`reset`, the first steps after a coarse-to-fine
        switch are not full-``lr`` jumps of every element (the old second moments, larger per
        element at the coarse level, act as a warm-up)."""
        for d in (self.m, self.v, self.t):
            if key in d:
                d[key] = np.ascontiguousarray(fn(d[key]), dtype=np.float32)
        if key in self.t:  # a step count: keep it whole after area resampling
            np.rint(self.t[key], out=self.t[key])

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr_scale: float = 1.0) -> None:
        """Update ``params`` in place from ``grads`` (same keys and shapes)."""
        for k, g in grads.items():
            x = params[k]
            if k not in self.m or self.m[k].shape != x.shape:
                self.m[k] = np.zeros_like(x)
                self.v[k] = np.zeros_like(x)
                self.t[k] = np.zeros_like(x)
            m, v, t = self.m[k], self.v[k], self.t[k]
            lr = self.lrs[k] * lr_scale
            if k not in self.masked:
                t += 1
                m *= self.beta1
                m += (1 - self.beta1) * g
                v *= self.beta2
                v += (1 - self.beta2) * np.square(g)
                x -= self._step(m, v, t, lr, self.floors.get(k, 0.0))
                continue
            # whole-array form of the masked update (fancy indexing was ~2x slower at 512²)
            upd = g != 0
            t += upd
            np.copyto(m, self.beta1 * m + (1 - self.beta1) * g, where=upd)
            np.copyto(v, self.beta2 * v + (1 - self.beta2) * np.square(g), where=upd)
            np.subtract(x, self._step(m, v, np.maximum(t, 1), lr, self.floors.get(k, 0.0)), out=x, where=upd)

    def _step(self, m: np.ndarray, v: np.ndarray, t: np.ndarray, lr: float, floor: float = 0.0) -> np.ndarray:
        """The bias-corrected Adam step ``lr * m_hat / (sqrt(v_hat) + eps)``; with ``floor`` > 0
        the denominator is at least ``floor`` times the median element's ``sqrt(v_hat)``
        (:func:`floored_rms`)."""
        rms = np.sqrt(v / bias_correction(self.beta2, t))
        return lr / bias_correction(self.beta1, t) * m / (floored_rms(rms, floor) + self.eps)

    def state(self) -> dict[str, np.ndarray]:
        """Flat dict of arrays for ``np.savez`` (keys ``m/<name>``, ``v/<name>``, ``t/<name>``)."""
        out = {}
        for name, d in (("m", self.m), ("v", self.v), ("t", self.t)):
            out.update({f"{name}/{k}": a for k, a in d.items()})
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        for key, a in state.items():
            name, k = key.split("/", 1)
            getattr(self, name)[k] = np.array(a)
