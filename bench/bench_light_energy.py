"""Does a coarse copy of a light render what the light does?

The GT asset of a capture, rendered on every 8th training view (depth 3 as the material stage, 128
spp) with its envmap area-resampled to each ``--widths``; the mean radiance inside the masks,
per channel, as a ratio to the capture's reference images (rendered at depth 6 from the full map).
Rows labelled ``centred`` were taken at commit 2ce2926, whose ``envmap_rows`` handed Mitsuba the
rows at their centres (reverted: results/README.md, session 23); the code now hands them as they are
(``pole-to-pole``, Mitsuba's reading).

Usage: .venv/bin/python bench/bench_light_energy.py CAPTURE [--widths 1024 256 64]
Rows go to results/light_energy.jsonl; results/light_energy.md is rewritten from it.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rows import append_row, rewrite_markdown

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results/light_energy"


def run(capture: Path, widths: list[int]) -> dict:
    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.data.images import resize_area
    from relight.render.mitsuba import build_scene, render_views
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    train = load_splits(capture).train
    idx = list(range(0, len(train), 8))
    cams = [train.cameras[i] for i in idx]
    gt = load_asset(capture / "gt")
    mask = np.stack([train.masks[i] for i in idx]) > 0.5
    ref = np.stack([train.images[i] for i in idx])[..., :3][mask].mean(0)
    row = {"capture": capture.name, "rows": "pole-to-pole", "date": time.strftime("%Y-%m-%d"), "ratio": {}}
    for w in widths:
        env = resize_area(gt.envmap, w // 2, w) if w != gt.envmap.shape[1] else gt.envmap
        img = render_views(backend, build_scene(backend, replace(gt, envmap=env), 3), cams, 128, seed=5)
        row["ratio"][str(w)] = [round(float(x), 4) for x in img[..., :3][mask].mean(0) / ref]
    return row


def markdown(rows: list[dict]) -> str:
    L = ["# A coarse copy of a light, rendered", "",
         "Reproduce: `.venv/bin/python bench/bench_light_energy.py CAPTURE`. "
         "Mean radiance in the masks of every 8th training view, GT asset at depth 3, its envmap "
         "area-resampled to each width, as a ratio (R, G, B) to the reference images (depth 6, full map). "
         "*pole-to-pole*: the envmap's rows handed to Mitsuba as they are (the code); *centred*: at "
         "commit 2ce2926, rows at their centres (reverted).", "",
         "| capture | rows | width: ratio R / G / B | date |", "|---|---|---|---|"]
    for r in rows:
        cells = "; ".join(f"{w}: {' / '.join(f'{x:.3f}' for x in v)}" for w, v in r["ratio"].items())
        L.append(f"| {r['capture']} | {r['rows']} | {cells} | {r['date']} |")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", type=Path, nargs="?")
    ap.add_argument("--widths", type=int, nargs="*", default=[1024, 256, 64])
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if not a.markdown:
        row = run(a.capture, a.widths)
        print(json.dumps(row))
        append_row(OUT.with_suffix(".jsonl"), row)
    rewrite_markdown(OUT, markdown)


if __name__ == "__main__":
    main()
