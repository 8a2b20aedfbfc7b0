"""Shading normals by bilateral normal filtering (Zheng et al. 2011) instead of Taubin smoothing.

Session 20's ``normal_smoothing`` (Taubin passes on a copy of the mesh) removes the edge-scale
ripple of the suite's reconstructed meshes but also the Stanford bunny's real detail, so it is off
by default. A bilateral filter of the face normals weighs each neighbour face by its distance
(Gaussian, sigma = the mean distance between neighbouring face centroids) *and* by how far its
normal differs (Gaussian of ``|n_i - n_j|``, width ``sigma_r``): small differences (a ripple) are
averaged, large ones (a crease, a bump) are kept. Vertex normals are then the area-weighted
filtered face normals; positions are not moved. This bench asks whether some ``(iterations,
sigma_r)`` lowers the normal MAE on the suite's meshes *without* raising it on the bunny.

Each object's fit (``SUITE/OBJ_fit``: `relight fit`'s asset; ``SUITE/OBJ``: its capture with gt/)
is scored on its 8 test views (normal MAE against the ray-cast GT normals, as ``relight eval``).
Rows go to results/bilateral_normals.jsonl, results/bilateral_normals.md is rewritten.

Usage: .venv/bin/python bench/bench_bilateral_normals.py spot knot blob vase bottle [--suite DIR]
           [--filters 3:0.1 3:0.2 10:0.2]   (ITERATIONS:SIGMA_R; taubin:K for session 20's filter)
       .venv/bin/python bench/bench_bilateral_normals.py --markdown
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from bench_normal_smoothing import normal_mae_on
from rows import append_row, rewrite_markdown

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "out/bench/suite"
OUT = ROOT / "results/bilateral_normals"
FILTERS = ["taubin:0", "taubin:2", "taubin:5", "1:0.1", "2:0.1", "3:0.05", "3:0.1", "3:0.2", "3:0.35",
           "5:0.1", "10:0.1", "10:0.2", "10:0.35"]


def bilateral_normals(verts: np.ndarray, faces: np.ndarray, iterations: int, sigma_r: float) -> np.ndarray:
    """(V, 3) unit vertex normals after ``iterations`` of bilateral filtering of the face normals
    over faces sharing a vertex (seam copies welded, as relight's own smooth normals)."""
    from relight.data.mesh import weld

    first, inv = weld(verts)
    v, f = np.asarray(verts, np.float64)[first], inv[faces]
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    area = 0.5 * np.linalg.norm(fn, axis=1)
    n = fn / np.maximum(2 * area, 1e-20)[:, None]
    c = v[f].mean(1)
    vf = sp.csr_matrix((np.ones(f.size), (f.ravel(), np.repeat(np.arange(len(f)), 3))), shape=(len(v), len(f)))
    adj = (vf.T @ vf).tocoo()
    i, j = adj.row, adj.col
    d = np.linalg.norm(c[i] - c[j], axis=1)
    ws = area[j] * np.exp(-0.5 * (d / d[i != j].mean()) ** 2)
    for _ in range(iterations):
        w = ws * np.exp(-0.5 * (np.linalg.norm(n[i] - n[j], axis=1) / sigma_r) ** 2)
        acc = np.zeros_like(n)
        np.add.at(acc, i, w[:, None] * n[j])
        n = acc / np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-20)
    accv = np.zeros_like(v)
    for k in range(3):
        np.add.at(accv, f[:, k], area[:, None] * n)
    return (accv / np.maximum(np.linalg.norm(accv, axis=1, keepdims=True), 1e-20))[inv].astype(np.float32)


def normals_of(mesh, spec: str) -> np.ndarray:
    from relight.geometry.remesh import shading_normals

    a, b = spec.split(":")
    if a == "taubin":
        return shading_normals(mesh.vertices, mesh.faces, int(b))
    return bilateral_normals(mesh.vertices, mesh.faces, int(a), float(b))


def run(obj: str, filters: list[str], suite: Path) -> dict:
    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    splits, fit = load_splits(suite / obj), load_asset(suite / f"{obj}_fit")
    row = {"object": obj, "date": time.strftime("%Y-%m-%d"), "faces": int(len(fit.mesh.faces)), "normal_mae": {}}
    for spec in filters:
        asset = replace(fit, mesh=replace(fit.mesh, normals=normals_of(fit.mesh, spec)))
        row["normal_mae"][spec] = round(normal_mae_on(asset, splits.test, backend), 3)
        print(obj, spec, row["normal_mae"][spec], flush=True)
    append_row(OUT.with_suffix(".jsonl"), row)
    return row


def markdown(rows: list[dict]) -> str:
    specs = list(dict.fromkeys(s for r in rows for s in r["normal_mae"]))
    L = ["# Shading normals by bilateral normal filtering (normal MAE on the test views)", "",
         "Reproduce: `.venv/bin/python bench/bench_bilateral_normals.py spot knot blob vase bottle` and, for the "
         "outside check, `… bunny --suite DIR` (DIR/bunny: a capture with gt/, DIR/bunny_fit: its fit). Columns "
         "`I:σ`: I iterations of bilateral face-normal filtering with normal width σ (|n_i − n_j|); "
         "`taubin:K`: session 20's `normal_smoothing` = K (0: the mesh's own normals).", "",
         "| object | date | faces | " + " | ".join(f"`{s}`" for s in specs) + " |", "|---|---|---|" + "---|" * len(specs)]
    for r in rows:
        base = r["normal_mae"].get("taubin:0")
        cells = []
        for s in specs:
            v = r["normal_mae"].get(s)
            cells.append("—" if v is None else f"{v:.2f}°" + (f" ({v - base:+.2f})" if base is not None and s != "taubin:0" else ""))
        L.append(f"| {r['object']} | {r['date']} | {r['faces']} | " + " | ".join(cells) + " |")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("objects", nargs="*")
    ap.add_argument("--filters", nargs="+", default=FILTERS)
    ap.add_argument("--suite", type=Path, default=SUITE)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    for obj in [] if a.markdown else a.objects:
        print(json.dumps(run(obj, a.filters, a.suite)))
    rewrite_markdown(OUT, markdown)


if __name__ == "__main__":
    main()
