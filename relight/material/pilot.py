"""The light pilot of ``env_compact_width``: which light resolution a capture needs, read from
the light the fit itself holds before its last level.

The default schedule runs until its last level (the *pilot*); :func:`choose_light` then measures
the fitted light's :func:`relight.material.light.concentration`. A compact light (a sun, a
softbox: from ``env_compact_share`` on) makes the fit start again with the finer light of
:func:`light_config` at every level; otherwise the pilot's state simply goes on. Starting again,
rather than refining the last level, is measured (results/README.md, session 36): by the last
level the albedo holds the shading that a too-coarse light could not, and a finer light added
then takes none of it back.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from relight.data.asset import Asset
from relight.material.config import MaterialConfig
from relight.material.light import COMPACT_SHARE, concentration, light_log
from relight.material.state import MaterialState, init_state
from relight.runtime.loop import Schedule
from relight.runtime.progress import Reporter


def light_config(cfg: MaterialConfig, state: MaterialState) -> MaterialConfig:
    """``cfg`` as the light is fitted now: once the pilot found the light compact
    (``env_compact_width``), that width and block means up to twice the default light's texel."""
    c = state.light_concentration
    if not cfg.compact_pilot or c is None or c < cfg.env_compact_share:
        return cfg
    scales = int(np.log2(cfg.env_compact_width / cfg.env_width)) + 1
    return replace(cfg, env_width=cfg.env_compact_width, env_compact_width=0,
                   env_multiscale=max(cfg.env_multiscale, scales))


def pilot_end(schedule: Schedule) -> int | None:
    """The first step of the last level: where ``env_compact_width``'s pilot (the levels before)
    ends; None when a run too short to reach the last level, or to have a level before it, has none."""
    last = next((s for s in range(schedule.iterations) if schedule.level(s) == schedule.levels - 1), None)
    return last or None


def choose_light(state: MaterialState, cfg: MaterialConfig, init: Asset | None, rep: Reporter) -> None:
    """After the pilot (the default schedule but its last level): measure the fitted light's
    concentration; when compact, start ``state`` afresh with the finer light (:func:`light_config`),
    every level of it, else leave it to continue as it is."""
    c = concentration(np.exp(light_log(state.params)), COMPACT_SHARE)
    state.light_concentration = c
    fine = light_config(cfg, state)
    if fine is cfg:
        rep.log(f"light concentration {c:.2f} (power from its brightest {COMPACT_SHARE:.0%} of the sphere; "
                f"compact from {cfg.env_compact_share:g}): the {cfg.env_width}-wide light goes on")
        return
    rep.log(f"light concentration {c:.2f} (compact from {cfg.env_compact_share:g}): a sun or a lamp; "
            f"fitting again from the start with a {fine.env_width}-wide light")
    fresh = init_state(fine, init)
    state.params, state.adam, state.step, state.avg, state.avg_count = fresh.params, fresh.adam, 0, {}, 0
    state.palette_share = None  # measured again in the fresh run
    state.losses.clear()
    if state.log_ratios is not None:
        state.log_ratios[:] = np.nan  # shared with the render problem: reset in place
