"""Where a photo capture's geometry loses to the truth's: poses or masks (issue 20).

On a `relight synth --photos` set with `relight poses --masks auto` run on it (bench_photos.py),
`relight geometry --downscale 2` is fitted on the four captures that cross {true, SfM} poses with
{true, automatic} masks, over the same photos: the truth's undistorted photos (`truth/posed`) or
COLMAP's (the SfM capture, 2 px wider: masks are moved between the two by cropping or padding a
pixel each side, their focal lengths differ by 0.14 % on the blob). Each mesh is scored on the
truth's held-out test views (SfM-frame meshes moved by the similarity of their cameras to the
true ones): normal MAE and mask IoU, and its silhouettes' IoU against its own training masks.

Usage: .venv/bin/python bench/bench_photos_factors.py out/bench/photos_v2/blob [--work DIR] [--out results/photos_factors]
       [--config GEOMETRY.toml] [--only true,sfm]
(fits already in WORK are reused; each takes ~6 min alone on 2 cores; ``--config`` is passed to
every fit, so give it its own ``--work``).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
import trimesh
from bench_photos_fit import run_relight, sfm_to_truth
from PIL import Image

from relight.data.capture_io import load_capture
from relight.data.mesh import Mesh
from relight.evaluation.geometry import evaluate_geometry
from relight.evaluation.metrics import overlap
from relight.geometry.draw import render_views
from relight.geometry.raster import make_raster

ROOT = Path(__file__).resolve().parent.parent


def hybrid(cameras_from: Path, masks_from: Path, out: Path, pad: int) -> Path:
    """A capture with the images and cameras of ``cameras_from`` and the masks of ``masks_from``
    (padded by ``pad`` px each side, or cropped when negative). Files are copied: a capture's
    files stay inside its folder."""
    if (out / "transforms.json").is_file():
        return out
    (out / "masks").mkdir(parents=True, exist_ok=True)
    shutil.copytree(cameras_from / "images", out / "images", dirs_exist_ok=True)
    meta = json.loads((cameras_from / "transforms.json").read_text())
    for f in meta["frames"]:
        name = Path(f["mask_path"]).name
        m = np.asarray(Image.open(masks_from / "masks" / name))
        m = np.pad(m, [(pad, pad), (pad, pad)], mode="edge") if pad > 0 else m[-pad:pad or None, -pad:pad or None]
        Image.fromarray(m).save(out / "masks" / name)
    (out / "transforms.json").write_text(json.dumps(meta, indent=1))
    return out


def geometry(capture: Path, out: Path, config: Path | None = None) -> None:
    if not (out / "geometry.json").is_file():
        run_relight("geometry", capture, out, 2, *(["--config", str(config.resolve())] if config else []))


def train_iou(mesh_dir: Path, capture: Path, raster) -> float:
    """Median over the training views of the mesh's coverage IoU against the capture's masks."""
    c = load_capture(capture, load_gt=False)
    tm = trimesh.load(mesh_dir / "mesh_colors.ply", process=False)
    v, f = torch.tensor(np.asarray(tm.vertices), dtype=torch.float32), torch.tensor(np.asarray(tm.faces))
    ious = []
    with torch.no_grad():
        for i, cam in enumerate(c.cameras):
            mvp = torch.tensor(cam.mvp(), dtype=torch.float32)[None]
            _, cov = render_views(raster, v, f, torch.zeros(len(v), 3), mvp, (cam.height, cam.width), 2)
            a, b = overlap(cov[0].numpy(), np.asarray(c.masks[i]))
            ious.append(a / b)
    return float(np.median(ious))


def exposure_recovery(capture: Path, info: dict, truth: Path) -> dict | None:
    """How well a fit's per-view colour factors (``view_gains`` of its geometry.json, ``info``)
    follow the photos' true exposures (truth/photos.json, EV): the correlation and slope of their
    log mean over the channels against ``EV ln 2 / 2.2`` (a linear gain seen on the sRGB colour),
    both centred, and the mean error."""
    gains = info.get("view_gains")
    if gains is None:
        return None
    ev = {Path(p["file"]).stem: p["exposure_ev"] for p in json.loads((truth / "photos.json").read_text())["photos"]}
    names = [Path(f["file_path"]).stem for f in json.loads((capture / "transforms.json").read_text())["frames"]]
    fitted = np.log(np.asarray(gains)).mean(1)
    true = np.array([ev[n] for n in names]) * np.log(2) / 2.2
    true -= true.mean()
    return {"corr": float(np.corrcoef(fitted, true)[0, 1]), "slope": float(np.polyfit(true, fitted, 1)[0]),
            "mean_error": float(np.abs(fitted - true).mean()), "true_spread": float(np.abs(true).mean())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", default="results/photos_factors")
    ap.add_argument("--config", type=Path, default=None, help="a GeometryConfig TOML passed to every fit")
    ap.add_argument("--only", default=None, help="comma-separated run names (true,true_automasks,sfm_truemasks,sfm)")
    a = ap.parse_args()
    truth, sfm = a.folder / "truth", ROOT / "out/bench/photos_poses" / f"{a.folder.name}_poses"
    work = a.work or ROOT / "out/bench/photos_factors" / a.folder.name
    posed = truth / "posed"
    runs = {"true poses, true masks": ("true", posed, False),
            "true poses, automatic masks": ("true_automasks", hybrid(posed, sfm, work / "cap_true_automasks", -1), False),
            "SfM poses, true masks": ("sfm_truemasks", hybrid(sfm, posed, work / "cap_sfm_truemasks", 1), True),
            "SfM poses, automatic masks": ("sfm", sfm, True)}
    test = load_capture(truth, "test")
    sim = sfm_to_truth(truth, sfm)
    raster = make_raster("cpu")
    rows = {}
    if a.only:
        runs = {k: v for k, v in runs.items() if v[0] in a.only.split(",")}
    for label, (name, capture, in_sfm_frame) in runs.items():
        geometry(capture, work / name, a.config)
        tm = trimesh.load(work / name / "mesh_colors.ply", process=False)
        v = np.asarray(tm.vertices, np.float64)
        if in_sfm_frame:
            v = v @ sim[:3, :3].T + sim[:3, 3]
        colours = np.asarray(tm.visual.vertex_colors[:, :3], np.float32) / 255
        m = evaluate_geometry(Mesh(v, np.asarray(tm.faces)), colours, test, raster)
        info = json.loads((work / name / "geometry.json").read_text())
        rows[label] = {"normal_mae": m["normal_mae"], "test_mask_iou": m["mask_iou"],
                       "train_mask_iou_median": train_iou(work / name, capture, raster),
                       "seconds": info["seconds"], "exposure": exposure_recovery(capture, info, truth)}
        print(label, rows[label], flush=True)
    out = ROOT / a.out
    (out.parent / f"{out.name}.json").write_text(json.dumps(rows, indent=1) + "\n")
    md = [f"# Poses or masks: `relight geometry` on `{a.folder.name}`'s photos", "",
          "`relight geometry --downscale 2` (fast preset) on the same photos with true or SfM poses and true or "
          "automatic masks; scored on the truth's held-out views. *train IoU*: the mesh's silhouettes against its "
          "own training masks (how far the views agree with one mesh).", "",
          "*exposures*: the fitted per-view colour factors (`view_gains`) against the photos' true exposures: "
          "correlation / slope of their logs (1 / 1: recovered), mean error against the true spread (log units).", "",
          "| poses, masks | normal MAE | test mask IoU | train IoU (median) | exposures | time |",
          "|---|---|---|---|---|---|"]

    def exposures(e: dict | None) -> str:
        return "off" if e is None else f"{e['corr']:.3f} / {e['slope']:.2f}, {e['mean_error']:.3f} of {e['true_spread']:.3f}"
    md += [f"| {k} | {r['normal_mae']:.2f}° | {r['test_mask_iou']:.4f} | {r['train_mask_iou_median']:.4f} | "
           f"{exposures(r.get('exposure'))} | {r['seconds']:.0f} s |" for k, r in rows.items()]
    flags = "".join(f" --{k} {v}" for k, v in (("only", a.only), ("config", a.config), ("work", a.work)) if v)
    md += ["", f"Reproduce: `.venv/bin/python bench/bench_photos_factors.py {a.folder}{flags}` (after bench_photos.py)"
           + (f"; `{a.config}` holds `{a.config.read_text().strip()}`." if a.config else ".")]
    (out.parent / f"{out.name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
