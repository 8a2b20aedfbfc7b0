"""Is the material fit's shortfall on a reconstructed mesh an optimization failure or the objective's?

Renders the training views of one bench_suite object with several assets and scores each with the
material stage's own loss (``relative_l2`` under :func:`relight.material.losses.relative_weight`,
64 spp, path depth 3, every 4th training view). Assets: the full ``relight fit`` on the
reconstructed mesh (``out/bench/suite/<object>_fit``); the same mesh with GT materials and light
(the ladder's ceiling, :func:`bench_mesh_ceiling.oracle_asset`); optional extra fitted assets
(``--extra NAME=FOLDER``, e.g. the ``--gt-light`` fit of bench_levers); and the GT asset on the GT
mesh, whose loss is the floor left by Monte Carlo noise in the renders and the targets.

If the fit's loss is *below* the ceiling's, the objective itself prefers the fitted (wrong)
materials on that mesh: no texture-side lever (priors, noise handling, more steps) can move the
fit to the ceiling; only the geometry can.

Usage: .venv/bin/python bench/bench_objective.py --object spot [--extra gtlight=out/bench/levers/spot_gtlight_it1000]
Writes results/objective.json and results/objective.md (one section per object, replaced on rerun).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "out/bench/suite"
OUT = ROOT / "results/objective"


def training_loss(backend, asset, capture, views: list[int], spp: int) -> float:
    """Mean ``relative_l2`` of ``asset`` rendered at ``spp`` over ``views`` of ``capture``."""
    from relight.material.losses import relative_weight
    from relight.render.mitsuba import build_scene, render_views

    imgs = render_views(backend, build_scene(backend, asset, 3), [capture.cameras[i] for i in views], spp)
    per = []
    for k, i in enumerate(views):
        img, m = np.asarray(capture.images[i]), np.asarray(capture.masks[i])
        per.append(float((relative_weight(img, m) * (imgs[k][..., :3] - img) ** 2).mean()))
    return float(np.mean(per))


def main() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_mesh_ceiling import oracle_asset

    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.runtime.backend import select_backend

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--object", default="spot")
    ap.add_argument("--extra", nargs="*", default=[], metavar="NAME=FOLDER")
    ap.add_argument("--spp", type=int, default=64)
    a = ap.parse_args()
    backend = select_backend("cpu")
    train = load_splits(SUITE / a.object).train
    fit, gt = load_asset(SUITE / f"{a.object}_fit"), load_asset(SUITE / a.object / "gt")
    assets = {"fit (reconstructed mesh)": fit, "ceiling (reconstructed mesh, GT materials and light)":
              oracle_asset(fit, gt, 512)[0]}
    assets |= {name: load_asset(folder) for name, folder in (x.split("=", 1) for x in a.extra)}
    assets["floor (GT mesh, GT materials and light)"] = gt
    views = list(range(0, len(train), 4))
    t = time.perf_counter()
    losses = {name: training_loss(backend, asset, train, views, a.spp) for name, asset in assets.items()}
    row = {"object": a.object, "date": time.strftime("%Y-%m-%d"), "spp": a.spp, "views": len(views),
           "losses": losses, "seconds": round(time.perf_counter() - t, 1)}
    js = OUT.with_suffix(".json")
    rows = [r for r in (json.loads(js.read_text()) if js.exists() else []) if r["object"] != a.object] + [row]
    js.write_text(json.dumps(rows, indent=2) + "\n")
    L = ["# The material stage's objective on a reconstructed mesh", "",
         "Reproduce: `.venv/bin/python bench/bench_objective.py --object OBJ [--extra NAME=FOLDER]` "
         "(see its docstring). Training-view loss (`relative_l2`, the material stage's own) of each asset, "
         "and its excess over the floor (the GT asset on the GT mesh: Monte Carlo noise of render and target).", ""]
    for r in rows:
        floor = r["losses"]["floor (GT mesh, GT materials and light)"]
        L += [f"## {r['object']} ({r['date']}, {r['views']} training views, {r['spp']} spp)", "",
              "| asset | loss | excess over the floor |", "|---|---|---|"]
        L += [f"| {n} | {v:.6f} | {v - floor:+.6f} |" for n, v in r["losses"].items()]
        L.append("")
    OUT.with_suffix(".md").write_text("\n".join(L))
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
