"""Where a fitted mesh departs from the true surface, and what kind of error that is (issue 18's
knot diagnosis): genus of both meshes, each fitted vertex's distance to the GT surface, the share
of vertices beyond a threshold, whether those lie outside the truth (filled crevices: material the
visual hull put where there is none) or inside it (carved too deep), and the mesh's local
thickness there (a ray from the vertex along its inward normal to the next surface).

Usage: .venv/bin/python bench/bench_surface_excess.py FIT_MESH GT_MESH --capture CAPTURE [--tag knot]
       e.g. after ``relight geometry out/bench/suite/knot -o out/knot_geo``:
       .venv/bin/python bench/bench_surface_excess.py out/knot_geo/mesh.obj
           out/bench/suite/knot/gt/mesh.obj --capture out/bench/suite/knot --tag knot

Appends a row to ``results/surface_excess.jsonl`` and rewrites ``results/surface_excess.md``.
Distances are in % of the GT bounding-box diagonal and in pixels at the scene centre of the
capture's test views scaled as the geometry stage's finest level (the ``fast`` preset's ``image_res``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gpytoolbox as gp
import numpy as np
import trimesh
from rows import append_row, rewrite_markdown

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results/surface_excess"


def genus(m: trimesh.Trimesh) -> int:
    """Genus of a closed, connected mesh from its Euler characteristic (2 - 2g)."""
    return int((2 - m.euler_number) // 2)


def load_welded(path: str) -> trimesh.Trimesh:
    """The mesh with vertices split along UV seams or normals merged again (topology, not attributes)."""
    m = trimesh.load(path, process=False, force="mesh")
    m.merge_vertices(merge_tex=True, merge_norm=True)
    return m


def measure(fit_path: str, gt_path: str, capture: str | None, far_pct: float = 1.0) -> dict:
    fit, gt = load_welded(fit_path), load_welded(gt_path)
    diag = float(np.linalg.norm(gt.bounds[1] - gt.bounds[0]))
    v, f = np.asarray(fit.vertices, float), np.asarray(fit.faces)
    gv, gf = np.asarray(gt.vertices, float), np.asarray(gt.faces)
    d = np.sqrt(gp.squared_distance(v, gv, gf, use_cpp=True)[0]) / diag * 100
    far = d > far_pct
    n = np.asarray(fit.vertex_normals)
    t = gp.ray_mesh_intersect(v[far] - 1e-6 * diag * n[far], -n[far], v, f)[0] / diag * 100
    outside = gp.fast_winding_number(v[far], gv, gf) < 0.5
    px = None
    if capture:
        from relight.data.camera import pixel_size
        from relight.data.capture_io import load_capture
        from relight.geometry.config import load_config

        res = load_config("fast").image_res  # the geometry stage's finest level (longest side, never upscaled)
        cams = load_capture(capture, "test", load_gt=False).cameras
        s = min(1.0, res / max(cams[0].width, cams[0].height))
        px = float(pixel_size([c.scaled(round(c.width * s), round(c.height * s)) for c in cams], np.zeros(3)))
        px = px / diag * 100
    q = lambda a, p: round(float(np.nanpercentile(np.where(np.isinf(a), np.nan, a), p)), 3)  # noqa: E731
    return {"fit": fit_path, "genus_fit": genus(fit), "genus_gt": genus(gt), "vertices": len(v),
            "median_pct": q(d, 50), "p99_pct": q(d, 99), "max_pct": round(float(d.max()), 3),
            "far_pct": far_pct, "far_vertices": int(far.sum()), "far_outside": round(float(outside.mean()), 3),
            "far_thickness_p10_pct": q(t, 10), "far_thickness_p50_pct": q(t, 50), "pixel_pct": px}


def markdown(rows: list[dict]) -> str:
    head = ("# Where fitted meshes leave the true surface (`bench/bench_surface_excess.py`)\n\n"
            + (__doc__.split("\n\n")[0]) + "\n\nDistances in % of the GT bounding-box diagonal; *px*: "
            "the same in pixels of the `fast` preset's finest level (`image_res`) at the scene centre. Reproduce: "
            "`relight geometry out/bench/suite/OBJ -o out/OBJ_geo` (or a suite fit's `mesh.obj`), then "
            "`.venv/bin/python bench/bench_surface_excess.py out/OBJ_geo/mesh.obj out/bench/suite/OBJ/gt/mesh.obj "
            "--capture out/bench/suite/OBJ --tag OBJ`. Thickness: along the inward normal, so at a filled "
            "crevice it often crosses a whole tube (the p50), and the p10 is the thinnest webs.\n\n"
            "| tag | genus fit / GT | median | p99 | max (px) | vertices beyond | of them outside GT |"
            " thickness there p10 / p50 |\n|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        px = f" ({r['max_pct'] / r['pixel_pct']:.1f} px)" if r.get("pixel_pct") else ""
        lines.append(f"| {r['tag']} | {r['genus_fit']} / {r['genus_gt']} | {r['median_pct']:.3f} % | "
                     f"{r['p99_pct']:.2f} % | {r['max_pct']:.2f} %{px} | {r['far_vertices']} of {r['vertices']} "
                     f"(> {r['far_pct']:g} %) | {100 * r['far_outside']:.0f} % | "
                     f"{r['far_thickness_p10_pct']:.2f} / {r['far_thickness_p50_pct']:.2f} % |")
    return head + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fit_mesh")
    ap.add_argument("gt_mesh")
    ap.add_argument("--capture", default=None, help="capture folder, for distances in pixels")
    ap.add_argument("--tag", default="")
    ap.add_argument("--far", type=float, default=1.0, help="threshold in %% of the diagonal")
    a = ap.parse_args()
    row = {"tag": a.tag or Path(a.fit_mesh).parent.name} | measure(a.fit_mesh, a.gt_mesh, a.capture, a.far)
    print(row)
    append_row(OUT.with_suffix(".jsonl"), row)
    rewrite_markdown(OUT, markdown)


if __name__ == "__main__":
    main()
