"""The peer of issue 18: the Mitsuba 3 inverse-rendering tutorial recipe a user would write instead
of relight's material stage, run on the same capture and mesh.

``prb``, plain L2 on the linear images, Adam (``mi.ad.Adam``) on albedo / roughness / envmap (and
metallic where the fit has it), no priors, no coarse-to-fine, one random training view per step,
the same steps and spp as relight's preset. Textures start at 0.5, the envmap at 0.5 (as ours).

A fair peer uses its best learning rate, so :data:`PEER_LR` comes from a sweep (:func:`sweep`,
``results/peer_lr.md``), measured on spot and used for every object (not tuned per object). At
the tutorial's 0.05 Adam normalises each texel's step, so texels seen rarely and through 8-spp
noise random-walk (salt-and-pepper albedo); smaller rates leave colour casts instead, and none
scored better in relight, so 0.05 stays.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

PEER_LR = 0.05
"""Adam learning rate of the peer: the best relight PSNR of ``results/peer_lr.md``'s sweep."""


def peer_recipe(train, mesh, backend, *, steps: int, spp: int, tex_res: int, env_width: int, max_depth: int,
                metallic: bool = False, lr: float = PEER_LR, seed: int = 0, masked: bool = False,
                uniform: bool = False, env_lr: float | None = None, views_per_step: int = 1):
    """Fit textures and envmap of ``mesh`` (with UVs) to ``train`` the tutorial way; an Asset.

    The defaults are the recipe. The options are what a careful user might change within it,
    measured by :func:`sweep` (``results/peer_lr.md``): ``masked`` (loss on the object's pixels
    only), ``uniform`` (Mitsuba's ``Adam(uniform=True)``: one step size for all texels, no
    per-texel normalisation), ``env_lr`` (the envmap's own learning rate), ``views_per_step``
    (views averaged in one step's loss)."""
    import drjit as dr

    from relight.data.asset import Asset
    from relight.render.mitsuba import KA, KE, KM, KR, build_scene, sensor

    mi = backend.mitsuba()
    half = np.full((tex_res, tex_res), 0.5, np.float32)
    init = Asset(mesh, np.full((tex_res, tex_res, 3), 0.5, np.float32), half,
                 np.full((env_width // 2, env_width, 3), 0.5, np.float32), half.copy() if metallic else None)
    scene = build_scene(backend, init, max_depth, integrator="prb")
    params = mi.traverse(scene)
    keys = (KA, KR, KE, KM) if metallic else (KA, KR, KE)
    opt = mi.ad.Adam(lr=lr, uniform=uniform)
    for k in keys:
        opt[k] = params[k]
    if env_lr is not None:
        opt.set_learning_rate({KE: env_lr})
    params.update(opt)
    sensors = [sensor(backend, c, spp, pixel_format="rgb") for c in train.cameras]
    refs = [mi.TensorXf(np.ascontiguousarray(im)) for im in train.images]
    weights = [mi.TensorXf(np.ascontiguousarray((m > 0).astype(np.float32)[..., None])) for m in train.masks] \
        if masked else None
    rng = np.random.default_rng(seed)
    for it in range(steps):
        loss = 0.0
        for b in range(views_per_step):
            v = int(rng.integers(len(sensors)))
            diff = mi.render(scene, params, sensor=sensors[v], spp=spp, seed=it * views_per_step + b) - refs[v]
            loss = loss + dr.mean(dr.square(diff * weights[v] if masked else diff), axis=None) / views_per_step
        dr.backward(loss)
        opt.step()
        opt[KA] = dr.clip(opt[KA], 0.0, 1.0)
        opt[KR] = dr.clip(opt[KR], 0.05, 1.0)
        opt[KE] = dr.maximum(opt[KE], 0.0)
        if metallic:
            opt[KM] = dr.clip(opt[KM], 0.0, 1.0)
        params.update(opt)
    env = np.array(params[KE])[:, 1:-1]  # Mitsuba pads one wrap-around column on each side
    metal = np.array(params[KM])[..., 0] if metallic else None
    return Asset(mesh, np.array(params[KA]), np.array(params[KR])[..., 0], np.ascontiguousarray(env, np.float32),
                 metal)


def parse_variant(text: str) -> tuple[str, dict]:
    """``NAME:key=value,key=value`` (values as Python literals) -> (NAME, options of :func:`peer_recipe`)."""
    import ast

    name, _, opts = text.partition(":")
    kw = {}
    for item in filter(None, opts.split(",")):
        k, _, v = item.partition("=")
        kw[k.strip()] = ast.literal_eval(v.strip())
    return name, kw


def sweep(capture: Path, mesh: str, steps: int, variants: list[str], out: Path, ours: bool = False) -> list[dict]:
    """The peer's variants for ``steps`` on ``capture`` (a ``relight synth`` folder) and ``mesh``
    (``gt``: the GT mesh and UVs; or a fitted asset folder: its mesh and atlas), each evaluated at
    64 spp; ``ours``: relight's material stage (``fast``, the same steps) as a reference row.
    Writes ``out``.md/.json. Behind :data:`PEER_LR` and ``results/peer_lr.md``."""
    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.evaluation.evaluate import evaluate
    from relight.material.config import load_config
    from relight.material.fit import fit_material
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    splits, m = load_splits(capture), load_config("fast", iterations=steps)
    base = load_asset(capture / "gt" if mesh == "gt" else Path(mesh)).mesh.with_normals()
    rows = []

    def row(name, kw, asset, t):
        ev = evaluate(asset, splits.test, backend, spp=64)
        rows.append({"variant": name, "options": kw, "steps": steps, "albedo_psnr": ev.albedo_psnr,
                     "relight_psnr_mean": ev.relight_psnr_mean, "roughness_mae": ev.roughness_mae,
                     "seconds": round(time.perf_counter() - t, 1)})
        print(json.dumps(rows[-1]), flush=True)

    if ours:
        t = time.perf_counter()
        row("relight (ours)", {}, fit_material(splits.train, base, m, backend).asset, t)
    for text in variants:
        name, kw = parse_variant(text)
        t = time.perf_counter()
        opts = {"spp": m.spp, "tex_res": m.tex_res, "env_width": m.env_width, "max_depth": m.max_depth, **kw}
        row(name, kw, peer_recipe(splits.train, base, backend, steps=steps, **opts), t)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    cmd = " ".join([f"--capture {capture}", f"--mesh {mesh}", f"--steps {steps}", *(f"--variant '{v}'" for v in variants),
                    *(["--ours"] if ours else [])])
    md = [f"# Peer variants ({capture.name}, {steps} steps, CPU)", "",
          f"Reproduce: `.venv/bin/python bench/peer.py {cmd}`. Evaluated at 64 spp (a ranking, not the final "
          "figure); seconds include the evaluation.", "",
          "| variant | options | albedo PSNR | relight PSNR | roughness MAE | seconds |", "|---|---|---|---|---|---|"]
    md += [f"| {r['variant']} | {r['options'] or '—'} | {r['albedo_psnr']:.2f} | {r['relight_psnr_mean']:.2f} | "
           f"{r['roughness_mae']:.3f} | {r['seconds']:.0f} |" for r in rows]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="variants of the peer recipe (learning rate, Adam, masking, views per step)")
    ap.add_argument("--capture", type=Path, required=True, help="a relight synth capture folder")
    ap.add_argument("--mesh", default="gt", help="'gt' (the capture's GT mesh and UVs) or a fitted asset folder")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--variant", action="append", default=[], help="NAME:key=value,... (peer_recipe options)")
    ap.add_argument("--ours", action="store_true", help="add relight's material stage with the same steps")
    ap.add_argument("--out", type=Path, default=Path("results/peer_variants"))
    a = ap.parse_args()
    sweep(a.capture, a.mesh, a.steps, a.variant or ["recipe:"], a.out, a.ours)
