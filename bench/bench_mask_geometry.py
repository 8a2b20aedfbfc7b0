"""How much the automatic masks decide the geometry: `relight geometry` on the capture that
`relight poses --masks auto` made from a photo set (run bench/bench_photos.py first), with its
masks as they are and replaced by the truth's (resampled into the capture's undistorted cameras),
and two halves of that: the truth's masks except within ``--band`` px of the true outline (the
masks' edge kept: what the outline's placement costs) and the automatic ones except there (what
the wrongly kept or missed regions farther out cost). Each mesh is moved into the true frame
(the similarity taking the SfM cameras to the true ones) and compared with the true mesh at
100k surface samples: mean signed distance along the true normal (+: outside), mean |distance|,
and the mean angle between the face normals.

Usage: .venv/bin/python bench/bench_mask_geometry.py out/bench/photos_v2/blob [--downscale 2] [--out results/mask_geometry]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from bench_photos import truth_mask_in
from PIL import Image
from scipy import ndimage
from scipy.spatial import cKDTree

from relight.capture.frame import align_similarity
from relight.data.capture_io import load_capture
from relight.data.mesh import Mesh, load_mesh
from relight.evaluation.metrics import sample_surface
from relight.runtime.paths import read_json

ROOT = Path(__file__).resolve().parent.parent


def face_normals(mesh: Mesh) -> np.ndarray:
    """(F, 3) unit normals of the faces (counter-clockwise = front)."""
    v = mesh.vertices.astype(np.float64)[mesh.faces]
    n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def surface_errors(mesh: Mesh, truth: Mesh, samples: int = 100_000) -> dict:
    """Signed distance (along the truth's normal), |distance| and normal angle (degrees) of
    ``samples`` points of ``mesh`` to their nearest of 4x as many points of ``truth``."""
    p, fi = sample_surface(truth, 4 * samples, seed=0, return_faces=True)
    q, qi = sample_surface(mesh, samples, seed=1, return_faces=True)
    _, i = cKDTree(p).query(q)
    n = face_normals(truth)[fi][i]
    signed = ((q - p[i]) * n).sum(1)
    angle = np.degrees(np.arccos(np.clip((face_normals(mesh)[qi] * n).sum(1), -1, 1)))
    return {"signed_mean": float(signed.mean()), "abs_mean": float(np.abs(signed).mean()),
            "normal_angle_mean_deg": float(angle.mean())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--downscale", type=int, default=2)
    ap.add_argument("--band", type=float, default=2.0)
    ap.add_argument("--out", default="results/mask_geometry")
    a = ap.parse_args()
    scene = a.folder.name
    poses = ROOT / "out/bench/photos_poses" / f"{scene}_poses"
    work = ROOT / "out/bench/mask_geometry" / scene
    cap = load_capture(poses, load_gt=False)
    truth_cap = load_capture(a.folder / "truth", "train", load_gt=False)
    by_name = dict(zip(truth_cap.names, truth_cap.cameras, strict=True))
    sim = align_similarity(cap.cameras, [by_name[n] for n in cap.names])
    lens = read_json(a.folder / "truth/photos.json")["lens"]
    variants = ("auto", "truth", "truth_outline_auto", "auto_outline_truth")
    for v in variants:
        shutil.rmtree(work / v, ignore_errors=True)
        shutil.copytree(poses, work / v, ignore=shutil.ignore_patterns("masks"))
        (work / v / "masks").mkdir()
    for n, cam in zip(cap.names, cap.cameras, strict=True):
        auto = np.asarray(Image.open(poses / f"masks/{n}.png")) >= 128
        true = truth_mask_in(cam, np.asarray(Image.open(a.folder / f"truth/photo_masks/{n}.png")), lens)
        near = (ndimage.distance_transform_edt(~true) <= a.band) & (ndimage.distance_transform_edt(true) <= a.band)
        for v, m in zip(variants, (auto, true, np.where(near, auto, true), np.where(near, true, auto)), strict=True):
            Image.fromarray(np.where(m, 255, 0).astype(np.uint8)).save(work / v / f"masks/{n}.png")
    truth_mesh = load_mesh(a.folder / "truth/gt/mesh.obj")
    rows = {}
    for v in variants:
        out = work / f"{v}_geometry"
        r = subprocess.run([sys.executable, "-m", "cli.main", "geometry", str(work / v), "-o", str(out), "--downscale",
                            str(a.downscale), "--overwrite", "-q"], capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0:
            raise SystemExit(f"geometry of {v} failed: {r.stderr.strip()[-500:]}")
        m = load_mesh(out / "mesh.obj")
        rows[v] = surface_errors(Mesh(m.vertices @ sim[:3, :3].T + sim[:3, 3], m.faces), truth_mesh)
        print(v, json.dumps(rows[v]), flush=True)
    out = ROOT / a.out
    out.with_suffix(".json").write_text(json.dumps({"scene": scene, "downscale": a.downscale, "band_px": a.band,
                                                     "rows": rows}, indent=1))
    md = [f"# Masks and geometry: `{scene}`", "",
          f"`relight geometry --downscale {a.downscale}` on the `relight poses --masks auto` capture, its masks replaced; "
          "the mesh in the true frame against the true mesh (signed: + outside).", "",
          "| masks | signed distance | mean abs distance | normal angle |", "|---|---|---|---|"]
    labels = {"auto": "automatic", "truth": "truth's", "truth_outline_auto": f"truth's, automatic within {a.band:g} px "
              "of the outline", "auto_outline_truth": f"automatic, truth's within {a.band:g} px of the outline"}
    for v in variants:
        r = rows[v]
        md.append(f"| {labels[v]} | {r['signed_mean']:+.4f} | {r['abs_mean']:.4f} | {r['normal_angle_mean_deg']:.2f}° |")
    md += ["", f"Reproduce: `.venv/bin/python bench/bench_mask_geometry.py {a.folder} --downscale {a.downscale}`."]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
