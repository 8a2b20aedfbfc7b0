"""Do hard (0/1) masks cost the geometry stage? (issue 20: where the automatic masks' 1.4° goes)

``relight poses --masks auto`` writes binary masks, while the suite's synthetic captures carry
antialiased alpha. On the blob photo set the automatic masks cost 1.4° of normal MAE against the
truth's (results/photos_factors.md) although their IoU is 0.994: is it the pixel quantization of a
hard outline? This copies a suite capture with its training alpha thresholded at 0.5 (colours
kept, premultiplied by the new alpha; test views and GT untouched) into
``out/bench/hard_masks/OBJ`` and fits the geometry stage on it with ``bench_geometry_ceiling.py``
(the defaults; relight ceiling at 64 spp), one row per object in ``results/hard_masks.jsonl``.
The same objects' soft-alpha rows with the same code are ``results/carving.jsonl``'s
``s33_OBJ_carve95`` (the kept carving criterion).

Usage: .venv/bin/python bench/bench_hard_masks.py OBJ [OBJ ...]    (each ~7-10 min on 2 cores)
       .venv/bin/python bench/bench_hard_masks.py --table          (-> results/hard_masks.md)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from rows import read_rows

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results/hard_masks"


def hard_copy(src: Path, dst: Path) -> Path:
    """``src`` copied to ``dst`` with every training EXR/PNG's alpha thresholded at 0.5."""
    from relight.data.capture_io import write_rgba
    from relight.data.images import read_exr

    shutil.copytree(src, dst, dirs_exist_ok=True)
    for exr in sorted((dst / "train").glob("*.exr")):
        rgba = read_exr(exr)
        a = rgba[..., 3:4]
        straight = np.where(a > 0, rgba[..., :3] / np.maximum(a, 1e-8), 0.0)
        hard = (a >= 0.5).astype(np.float32)
        write_rgba(exr.with_suffix(""), np.concatenate([straight * hard, hard], -1).astype(np.float32))
    return dst


def table() -> str:
    soft = {r["tag"]: r for r in read_rows(ROOT / "results/carving.jsonl")}
    out = ["# Hard masks and the geometry stage (`bench_hard_masks.py`)", "",
           __doc__.split("\n\n")[1].replace("\n", " "), "",
           "| object | masks | normal MAE | mask IoU (test) | Chamfer % | relight ceiling dB | fit s |",
           "|---|---|---|---|---|---|---|"]
    for r in read_rows(OUT.with_suffix(".jsonl")):
        obj = r["tag"].split("_")[1]
        pairs = ((f"soft alpha (`s33_{obj}_carve95`)", soft.get(f"s33_{obj}_carve95")), ("hard, alpha ≥ 0.5", r))
        for what, x in pairs:
            if x:
                out.append(f"| {obj} | {what} | {x['normal_mae']:.2f}° | {x['mask_iou']:.4f} | "
                           f"{100 * x['chamfer']:.3f} | {x['relight_psnr_mean']:.2f} | {x.get('seconds', '—')} |")
    out += ["", "Fits ran two at a time, one thread each (times are not timings). **Reading**: a hard outline "
            "costs the geometry 0.02° (blob) and 0.13° (spot, about the run-to-run spread) of normal MAE, against "
            "the 1.4° the automatic masks cost on the blob photo set: pixel quantization is not where they lose, "
            "so sub-pixel matting of their outline would not close that gap; their region errors (the shaded "
            "underside missed in the low views, `mask_geometry.md`) are what is left.", "",
            "Reproduce: `.venv/bin/python bench/bench_hard_masks.py blob spot`, then `--table`."]
    return "\n".join(out) + "\n"


def main() -> int:
    if sys.argv[1:] == ["--table"]:
        OUT.with_suffix(".md").write_text(table())
        print(OUT.with_suffix(".md").read_text())
        return 0
    for obj in sys.argv[1:]:
        cap = hard_copy(ROOT / "out/bench/suite" / obj, ROOT / "out/bench/hard_masks" / obj)
        subprocess.run([sys.executable, str(ROOT / "bench/bench_geometry_ceiling.py"), f"s34_{obj}_hardmask",
                        "--capture", str(cap), "--spp", "64", "--out", str(OUT.with_suffix(".jsonl"))], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
