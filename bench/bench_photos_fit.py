"""From photos to an asset, scored: `relight fit` on the capture `relight poses --masks auto`
made from a `relight synth --photos` folder, against the same fit of the same photos with the
true poses and masks (OUT/truth/posed). Both assets are evaluated on the truth's held-out test
views (relit under the scene's other HDRIs; albedo): the SfM asset after the similarity that
takes its cameras to the true ones (Asset.transformed: mesh and light). The photos were exposed
at the capture's metered ``base_exposure`` (truth/photos.json) and a fit's light carries it, so the
novel-view comparison with the truth's views divides the fitted light by it (albedo and relighting
are scale-aligned and do not depend on it).

Usage: .venv/bin/python bench/bench_photos_fit.py out/bench/photos/spot [--downscale 2] [--out results/photos_fit]
(run bench/bench_photos.py first: it writes out/bench/photos_poses/<scene>_poses).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from relight.capture.frame import align_similarity
from relight.data.asset import load_asset
from relight.data.capture_io import load_capture
from relight.evaluation.evaluate import evaluate
from relight.runtime.backend import select_backend

ROOT = Path(__file__).resolve().parent.parent


def run_relight(verb: str, capture: Path, out: Path, downscale: int, *extra: str) -> float:
    """``relight VERB CAPTURE -o OUT --downscale D --overwrite -q [EXTRA]`` in a subprocess; its wall time (s)."""
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "cli.main", verb, str(capture), "-o", str(out), "--downscale",
                        str(downscale), *extra, "--overwrite", "-q"], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"relight {verb} {capture} failed: {r.stderr.strip()[-500:]}")
    return time.perf_counter() - t


def fit(capture: Path, out: Path, downscale: int) -> float:
    return run_relight("fit", capture, out, downscale, "--no-eval")


def sfm_to_truth(truth: Path, poses: Path) -> np.ndarray:
    """The 4x4 similarity taking the frame of the SfM capture ``poses`` to that of the synth's
    truth (its train cameras), fitted on the cameras of the same photos."""
    train = load_capture(truth, "train", load_gt=False)
    true_cams = dict(zip(train.names, train.cameras, strict=True))
    sfm_cap = load_capture(poses, load_gt=False)
    return align_similarity(sfm_cap.cameras, [true_cams[n] for n in sfm_cap.names])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--downscale", type=int, default=2)
    ap.add_argument("--out", default="results/photos_fit")
    ap.add_argument("--reuse-gt", type=Path, default=None,
                    help="a previous run's JSON: take the true-poses fit (out/bench/photos_fit/<scene>/gt) and its "
                         "time from it instead of fitting again (that fit does not depend on relight poses)")
    a = ap.parse_args()
    work = ROOT / "out/bench/photos_fit" / a.folder.name
    poses = ROOT / "out/bench/photos_poses" / f"{a.folder.name}_poses"
    truth = a.folder / "truth"
    if a.reuse_gt is not None:
        seconds = {"gt": json.loads(a.reuse_gt.read_text())["gt"]["seconds"]}
    else:
        seconds = {"gt": fit(truth / "posed", work / "gt", a.downscale)}
    seconds["sfm"] = fit(poses, work / "sfm", a.downscale)
    backend = select_backend("cpu")
    test = load_capture(truth, "test")
    sim = sfm_to_truth(truth, poses)
    base = float(json.loads((truth / "photos.json").read_text()).get("base_exposure", 1.0))
    rows = {}
    for name, asset in (("gt", load_asset(work / "gt")), ("sfm", load_asset(work / "sfm").transformed(sim))):
        asset = replace(asset, envmap=(asset.envmap / base).astype(np.float32))
        m = evaluate(asset, test, backend).to_json()
        rows[name] = {"seconds": round(seconds[name], 1), "metrics": m,
                      "relight_psnr_mean": float(np.mean(list(m["relight_psnr"].values()))) if m.get("relight_psnr")
                      else None}
    out = ROOT / a.out
    (out.parent / f"{out.name}.json").write_text(json.dumps(rows, indent=1))
    g, s = rows["gt"], rows["sfm"]
    md = [f"# From photos to an asset: `{a.folder.name}`", "",
          f"`relight fit --downscale {a.downscale}` (fast preset, 2 CPU cores) of the same 64 photos (JPEG, ±0.5 EV, "
          "lens distortion, object on a floor) with the true poses and masks vs with `relight poses --masks auto`; "
          "both evaluated on the truth's held-out views (the SfM asset moved into the true frame; novel views with the "
          f"fitted light divided by the photos' metered base exposure, {base:.3f}).", "",
          "| poses and masks | relight PSNR (mean) | albedo PSNR | novel-view PSNR | mask IoU | fit time |",
          "|---|---|---|---|---|---|"]
    for label, r in (("true", g), ("relight poses --masks auto", s)):
        m = r["metrics"]
        md.append(f"| {label} | {r['relight_psnr_mean'] or float('nan'):.2f} dB | {m.get('albedo_psnr', float('nan')):.2f} dB "
                  f"| {m['novel_view_psnr']:.2f} dB | {m['mask_iou']:.3f} | {r['seconds']:.0f} s |")
    if g["relight_psnr_mean"] and s["relight_psnr_mean"]:
        md += ["", f"Difference in relight PSNR: {g['relight_psnr_mean'] - s['relight_psnr_mean']:+.2f} dB "
                   "(target: within 1.5 dB)."]
    if a.reuse_gt is not None:
        md += ["", f"The true-poses fit (asset and time) is the one of `{a.reuse_gt}`, evaluated again here."]
    md += ["", f"Reproduce: `.venv/bin/python bench/bench_photos_fit.py {a.folder} --downscale {a.downscale}`."]
    (out.parent / f"{out.name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
