"""Which way does the material stage's gradient push a light that is already right?

At a fixed state — the GT mesh, GT textures and the GT envmap area-resampled to ``--widths`` (or a
fitted asset with ``--asset``) — the loss gradient of the light is sampled ``--samples`` times
(one random training view each, ``fast``'s 8 spp / 4 spp for the gradient, ``relative_l2``) and
summed over two regions of the log envmap: the **sun** (the block of ±1.5 texels of the 64-wide
map, in angle, about the brightest texel) and the **sky** (the rest of the upper hemisphere). A
positive mean says a gradient step *dims* that region. Rows marked ‡ were taken with the light's
peak rendered as a directional sun (``MaterialConfig.sun`` of commit b6a945e, reverted). Plain Adam's
mean normalized step over the same sequence
(β 0.9 / 0.99, parameters held) shows what the optimizer makes of it.

Why (results/README.md, session 23): started from the truth (GT light at 64 wide, the albedo fitted
under it), the material stage without priors halves the bunny's sun in 600 steps and raises its
own data loss; this bench shows that the gradient at the truth asks for it, and why.

Usage: .venv/bin/python bench/bench_light_bias.py CAPTURE [--asset DIR] [--widths 64 256 1024]
       [--samples 200]
Rows go to results/light_bias.jsonl; results/light_bias.md is rewritten from it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rows import append_row, rewrite_markdown

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results/light_bias"


def adam_mean_step(x: np.ndarray) -> float:
    """Mean bias-corrected Adam step ``m / sqrt(v)`` over gradient sequence ``x`` (first 20 skipped)."""
    m = v = 0.0
    steps = []
    for t, g in enumerate(x, 1):
        m, v = 0.9 * m + 0.1 * g, 0.99 * v + 0.01 * g * g
        steps.append((m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-30))
    return float(np.mean(steps[20:]))


def sample(capture: Path, asset_dir: Path, width: int | None, n: int) -> dict:
    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.data.images import resize_area, rotate_equirect
    from relight.material.config import load_config
    from relight.material.problem import RenderProblem
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    train = load_splits(capture).train
    a = load_asset(asset_dir)
    env = rotate_equirect(a.envmap, a.envmap_rotation_deg)  # the turn baked in: the fit's light has none
    if width:
        env = resize_area(env, width // 2, width)
    cfg = load_config("fast", levels=1, level_split=[1.0])
    p = {"albedo": np.ascontiguousarray(resize_area(a.albedo, cfg.tex_res, cfg.tex_res), np.float32),
         "roughness": np.ascontiguousarray(resize_area(a.roughness[..., None], cfg.tex_res, cfg.tex_res), np.float32),
         "log_env": np.ascontiguousarray(np.log(np.maximum(env, 1e-6)), np.float32)}
    prob = RenderProblem(train, a.mesh.with_normals(), cfg, backend, p)
    h, w = env.shape[:2]
    lum = env[..., :3] @ np.array([0.2126, 0.7152, 0.0722])
    r0, c0 = np.unravel_index(int(lum.argmax()), lum.shape)
    rad = int(round(1.5 * w / 64))
    block = np.zeros((h, w), bool)
    block[max(r0 - rad, 0):r0 + rad + 1, np.arange(c0 - rad, c0 + rad + 1) % w] = True
    upper = np.zeros((h, w), bool)
    upper[: h // 2] = True
    rng = np.random.default_rng(0)
    sums = {"sun": [], "sky": []}
    t = time.perf_counter()
    for _ in range(n):
        _, g = prob.loss_and_grads(p, rng.choice(len(train), 1), rng, fit_gains=False)
        ge = g["log_env"].sum(2)
        sums["sun"].append(float(ge[block].sum()))
        sums["sky"].append(float(ge[upper & ~block].sum()))
    row = {"capture": capture.name, "asset": asset_dir.name, "width": w, "sun_split": False,
           "envmap_rows": "pole-to-pole", "samples": n,
           "date": time.strftime("%Y-%m-%d"), "seconds": round(time.perf_counter() - t, 1)}
    for k, x in sums.items():
        x = np.asarray(x)
        row[k] = {"mean": float(x.mean()), "se": float(x.std() / np.sqrt(len(x))), "median": float(np.median(x)),
                  "positive": float((x > 0).mean()), "adam_step": adam_mean_step(x)}
    return row


def markdown(rows: list[dict]) -> str:
    L = ["# Which way the gradient pushes a light that is already right", "",
         "Reproduce: `.venv/bin/python bench/bench_light_bias.py CAPTURE [--asset DIR] [--widths ...]` "
         "(see its docstring). Sum of d loss / d log radiance over the **sun** block (±1.5 texels of a 64-wide "
         "map about the peak) and the **sky** (the rest of the upper hemisphere), mean ± standard error over "
         "the samples (one random training view each, 8 spp); **positive: a gradient step dims it**. *Adam*: "
         "plain Adam's mean normalized step over the same sequence. ‡: with the light's peak rendered as a "
         "directional sun (an experiment of session 23, reverted; results/README.md).", "",
         "*Rows*: how the envmap's rows reached Mitsuba — `pole-to-pole` as its bitmap (the code), `centred` "
         "at their centres (commit 2ce2926, reverted; results/README.md, session 23).", "",
         "| capture | state | light width | envmap rows | peak split off | sun: mean ± se | sun: Adam | "
         "sky: mean ± se | sky: Adam | samples | date |", "|---" * 11 + "|"]
    for r in rows:
        s, k = r["sun"], r["sky"]
        L.append(f"| {r['capture']} | {r['asset']} | {r['width']} | {r.get('envmap_rows', 'pole-to-pole')} | "
                 f"{'yes ‡' if r['sun_split'] else 'no'} | "
                 f"{s['mean']:+.2e} ± {s['se']:.1e} | {s['adam_step']:+.2f} | {k['mean']:+.2e} ± {k['se']:.1e} | "
                 f"{k['adam_step']:+.2f} | {r['samples']} | {r['date']} |")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", type=Path, nargs="?")
    ap.add_argument("--asset", type=Path, help="state to sample at (default: CAPTURE/gt)")
    ap.add_argument("--widths", type=int, nargs="*", default=[64], help="resample the light to these widths (0: as is)")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if not a.markdown:
        for w in a.widths:
            row = sample(a.capture, a.asset or a.capture / "gt", w or None, a.samples)
            print(json.dumps(row), flush=True)
            append_row(OUT.with_suffix(".jsonl"), row)
    rewrite_markdown(OUT, markdown)


if __name__ == "__main__":
    main()
