"""Does the material stage depend on how much of the frame the object fills?

The same object (spot, GT mesh and UVs, so only the material stage is judged) is captured at
bench_suite's settings (64 + 8 views at 256²) with the cameras' field of view at 40° (the
suite's: the object covers ~18 % of the frame) and at 56° (~9 %), fitted with the ``fast``
preset and evaluated with ``relight eval``'s protocol. The image loss is a mean over all
pixels, so the priors pull twice as hard on the object that fills half the share of the frame;
scaling the loss by ``PRIOR_FILL / fill`` (commit ed64de5, reverted in the next commit: no gain
measured, results/README.md, session 18) left the smaller object's fit where it was. Rows
(with the commit they ran at) are appended to results/framing.jsonl; results/framing.md is
rewritten from it.

Usage: .venv/bin/python bench/bench_framing.py TAG [--fov 40,56] [--object spot]
       .venv/bin/python bench/bench_framing.py --markdown
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
from rows import append_row, read_rows

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results/framing"
CAPS = ROOT / "out/bench/framing"


def capture(obj: str, fov: float, backend) -> Path:
    """bench_suite's capture of ``obj`` with the cameras' horizontal field of view ``fov`` (once)."""
    from bench_suite import synth_once

    return synth_once(obj, CAPS / f"{obj}_fov{fov:g}", backend, res=256, views=64, fov_deg=fov)


def run(tag: str, obj: str, fov: float) -> dict:
    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.evaluation.evaluate import evaluate
    from relight.material.config import load_config
    from relight.material.fit import fit_material
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    cap = capture(obj, fov, backend)
    splits, gt = load_splits(cap), load_asset(cap / "gt")
    fill = float(np.mean([np.mean(m > 0) for m in splits.train.masks]))
    t = time.perf_counter()
    asset = fit_material(splits.train, gt.mesh.with_normals(), load_config("fast"), backend).asset
    seconds = time.perf_counter() - t
    ev = evaluate(asset, splits.test, backend).to_json()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    row = {"tag": tag, "object": obj, "fov_deg": fov, "fill": round(fill, 4), "commit": commit,
           "dirty": bool(subprocess.run(["git", "status", "--porcelain", "relight"], cwd=ROOT, capture_output=True,
                                        text=True).stdout.strip()),
           "date": time.strftime("%Y-%m-%d"), "albedo_psnr": ev["albedo_psnr"],
           "relight_psnr_mean": ev["relight_psnr_mean"], "relight_psnr_min": min(ev["relight_psnr"].values()),
           "roughness_mae": ev["roughness_mae"], "seconds": round(seconds, 1)}
    append_row(OUT.with_suffix(".jsonl"), row)
    return row


def markdown(rows: list[dict]) -> str:
    L = ["# Material stage vs. the object's share of the frame", "",
         "Reproduce: `.venv/bin/python bench/bench_framing.py TAG --fov 40,56` (spot's GT mesh and UVs, "
         "bench_suite's capture settings but the field of view, CPU `fast`, evaluated at 256 spp; about "
         "6 min a row on 2 cores). *fill*: mean mask coverage of the training views. *commit*: the code "
         "the row ran at (+ = with uncommitted changes in `relight/`; the `fill` rows ran the scale "
         "`PRIOR_FILL / fill` of commit ed64de5, since reverted).", "",
         "| tag | fov | fill | albedo PSNR | relight PSNR (min) | roughness MAE | seconds | commit |",
         "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        L.append(f"| {r['tag']} | {r['fov_deg']:g}° | {r['fill']:.3f} | {r['albedo_psnr']:.2f} | "
                 f"{r['relight_psnr_mean']:.2f} ({r['relight_psnr_min']:.2f}) | {r['roughness_mae']:.3f} | "
                 f"{r['seconds']:.0f} | {r['commit']}{'+' if r['dirty'] else ''} |")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("tag", nargs="?")
    ap.add_argument("--object", default="spot")
    ap.add_argument("--fov", default="40,56")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if not a.markdown:
        for fov in (float(x) for x in a.fov.split(",")):
            print(json.dumps(run(a.tag, a.object, fov)), flush=True)
    path = OUT.with_suffix(".jsonl")
    rows = read_rows(path) if path.is_file() else []
    OUT.with_suffix(".md").write_text(markdown(rows))


if __name__ == "__main__":
    main()
