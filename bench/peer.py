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
                metallic: bool = False, lr: float = PEER_LR, seed: int = 0):
    """Fit textures and envmap of ``mesh`` (with UVs) to ``train`` the tutorial way; an Asset."""
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
    opt = mi.ad.Adam(lr=lr)
    for k in keys:
        opt[k] = params[k]
    params.update(opt)
    sensors = [sensor(backend, c, spp, pixel_format="rgb") for c in train.cameras]
    refs = [mi.TensorXf(np.ascontiguousarray(im)) for im in train.images]
    rng = np.random.default_rng(seed)
    for it in range(steps):
        v = int(rng.integers(len(sensors)))
        img = mi.render(scene, params, sensor=sensors[v], spp=spp, seed=it)
        dr.backward(dr.mean(dr.square(img - refs[v]), axis=None))
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


def sweep(obj: str, steps: int, lrs: list[float], out: Path) -> list[dict]:
    """The learning-rate sweep behind :data:`PEER_LR`: the recipe for ``steps`` on ``obj``'s
    reconstructed mesh (``out/bench/suite/<obj>_fit``), evaluated at 64 spp; writes ``out``.md/.json."""
    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.evaluation.evaluate import evaluate
    from relight.material.config import load_config
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    suite = Path(__file__).resolve().parent.parent / "out/bench/suite"
    splits, fitted, m = load_splits(suite / obj), load_asset(suite / f"{obj}_fit"), load_config("fast")
    rows = []
    for lr in lrs:
        t = time.perf_counter()
        a = peer_recipe(splits.train, fitted.mesh, backend, steps=steps, spp=m.spp, tex_res=m.tex_res,
                        env_width=m.env_width, max_depth=m.max_depth, lr=lr)
        ev = evaluate(a, splits.test, backend, spp=64)
        rows.append({"lr": lr, "steps": steps, "albedo_psnr": ev.albedo_psnr, "relight_psnr_mean": ev.relight_psnr_mean,
                     "roughness_mae": ev.roughness_mae, "seconds": round(time.perf_counter() - t, 1)})
        print(json.dumps(rows[-1]), flush=True)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    md = [f"# Peer learning-rate sweep ({obj}, {steps} steps, CPU)", "",
          f"Reproduce: `.venv/bin/python bench/peer.py --object {obj} --steps {steps} --lrs "
          f"{','.join(str(x) for x in lrs)}` (after bench_suite or bench_ladder made the fit). Evaluated at "
          "64 spp (a ranking, not the final figure).", "", "| lr | albedo PSNR | relight PSNR | roughness MAE | seconds |",
          "|---|---|---|---|---|"]
    md += [f"| {r['lr']} | {r['albedo_psnr']:.2f} | {r['relight_psnr_mean']:.2f} | {r['roughness_mae']:.3f} | "
           f"{r['seconds']:.0f} |" for r in rows]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="learning-rate sweep of the peer recipe")
    ap.add_argument("--object", default="spot")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--lrs", default="0.05,0.01,0.002")
    ap.add_argument("--out", default="results/peer_lr")
    a = ap.parse_args()
    sweep(a.object, a.steps, [float(x) for x in a.lrs.split(",")], Path(a.out))
