"""SfM options on a photo-like synthetic capture (`relight synth SCENE --photos`): photos
registered, pose error against the truth after similarity alignment, and SfM time, for each
variant of :class:`relight.capture.sfm.SfmConfig` given as ``key=value`` lists. This is how
``SfmConfig.affine_shape`` was chosen (results/photos.md, session 11).

Usage: .venv/bin/python bench/bench_sfm_variants.py out/bench/photos_v2/blob \
    --variant plain affine_shape=False --variant affine affine_shape=True [--out results/sfm_variants.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
from rows import append_row

from relight.capture.frame import rotation_errors_deg
from relight.capture.sfm import SfmConfig, run_sfm
from relight.data.capture_io import load_capture

ROOT = Path(__file__).resolve().parent.parent


def config(pairs: list[str], cls: type = SfmConfig):
    """A ``cls`` dataclass (SfmConfig, MaskConfig) from ``key=value`` strings (values parsed as the
    field's type)."""
    types = {f.name: type(f.default) for f in fields(cls)}
    kw = {}
    for pair in pairs:
        k, v = pair.split("=", 1)
        kw[k] = v.lower() in ("1", "true", "yes") if types[k] is bool else types[k](v)
    return cls(**kw)


def variant_args(doc: str, out: str, dump: bool = False) -> argparse.Namespace:
    """The command line of a variants bench: a photo-set folder, ``--variant NAME KEY=VALUE ...``
    (repeated) and ``--out`` (a JSON-lines file, appended to; default ``out`` under the repo)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--variant", nargs="+", action="append", required=True, metavar=("NAME", "KEY=VALUE"))
    ap.add_argument("--out", type=Path, default=ROOT / out)
    if dump:
        ap.add_argument("--dump", type=Path, help="folder for pictures of the worst views' errors")
    return ap.parse_args()


def emit(row: dict, out: Path) -> None:
    """Print ``row`` and append it to the JSON-lines file ``out``."""
    print(json.dumps(row), flush=True)
    append_row(out, row)


def main() -> int:
    a = variant_args(__doc__, "results/sfm_variants.jsonl")
    photos = a.folder / "photos"
    names = sorted(p.name for p in photos.glob("*.jpg"))
    truth = load_capture(a.folder / "truth", "train", load_gt=False)
    by_stem = dict(zip(truth.names, truth.cameras, strict=True))
    for name, *pairs in a.variant:
        cfg = config(pairs)
        t = time.perf_counter()
        r = run_sfm(photos, names, ROOT / "out/bench/sfm_variants" / f"{a.folder.name}_{name}", cfg, log=lambda s: None)
        seconds = time.perf_counter() - t
        rot, centre = rotation_errors_deg(r.cameras, [by_stem[Path(n).stem] for n in r.names])
        row = {"scene": a.folder.name, "variant": name, "options": pairs, "registered": len(r.names),
               "photos": len(names), "unregistered": r.unregistered, "seconds": round(seconds, 1),
               "rotation_error_deg": {"median": float(np.median(rot)), "max": float(rot.max())},
               "centre_error_frac": {"median": float(np.median(centre)), "max": float(centre.max())}}
        emit(row, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
