"""Photo-consistency carving of the visual hull (``GeometryConfig.carve``): what it removes, and
what the fitted geometry gains.

Usage:
  .venv/bin/python bench/bench_carving.py hull OBJ [OBJ ...] [--pct 95] [--res 64]   # hull rows -> results/carving_hull.jsonl
  .venv/bin/python bench/bench_carving.py --table                         # both jsonl -> results/carving.md

*hull* rows: the visual hull (``fast`` preset's ``hull_res``) of ``out/bench/suite/OBJ`` and the
same hull photo-carved, each compared with the GT mesh: genus, share of mesh vertices more than
1 % of the GT diagonal from the GT surface and how many of those lie outside it (material where
there is none), and the GT surface's p99 distance to the mesh (true surface the mesh misses).

*geometry* rows (``results/carving.jsonl``) are ``bench_geometry_ceiling.py`` runs: the whole
geometry stage with ``--set carve=0`` or ``--set carve=95``, its normal MAE and the relighting
that mesh allows with GT materials and light (its ceiling).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import trimesh
from bench_surface_excess import genus
from rows import append_row, read_rows

HULL_ROWS = Path("results/carving_hull.jsonl")
GEO_ROWS = Path("results/carving.jsonl")

HEADER = """# Photo-consistency carving of the visual hull (`GeometryConfig.carve`, session 33)

**Why**: the visual hull keeps every voxel that projects inside all masks, so concavities that no
silhouette reveals stay filled; between the knot's tubes the fill closes handles (its fitted mesh
had genus 6 against the tube's 1, `surface_excess.md`), and the refinement (a mesh of fixed
topology) cannot open them. **What** (`relight/geometry/carving.py`): space carving (Kutulakos &
Seitz 2000) of the hull's surface voxels whose colour spread across the views that see them (a
splatted depth test) exceeds the 95th percentile of the spread of the rim voxels (on a mask edge
in a view that sees them: they touch the true surface) and 0.05 sRGB; never where that would
uncover a mask pixel; and each carved region is refilled unless the surface it exposed is clearly
consistent (median spread under 0.8 of the threshold: carving air ends on the true surface,
carving into metal stops where the spread just dips under the threshold).

"""


def compare(mesh, gv: np.ndarray, gf: np.ndarray, diag: float) -> dict:
    """Mesh-to-GT distances (share beyond 1 % of the diagonal, outside share) and GT-to-mesh p99."""
    import gpytoolbox as g

    v, f = np.asarray(mesh.vertices, float), np.asarray(mesh.faces)
    d = np.sqrt(g.squared_distance(v, gv, gf, use_cpp=True)[0]) / diag
    far = d > 0.01
    outside = float(np.mean(g.fast_winding_number(v[far], gv, gf) < 0.5)) if far.any() else 0.0
    dg = np.sqrt(g.squared_distance(gv, v, f, use_cpp=True)[0]) / diag
    return {"genus": genus(trimesh.Trimesh(mesh.vertices, mesh.faces)), "far": float(far.mean()), "far_outside": outside,
            "gt_to_mesh_p99": float(np.percentile(dg, 99))}


def hull_rows(objects: list[str], pct: float, res: int | None = None) -> None:
    from relight.data.capture_io import load_capture
    from relight.data.mesh import load_mesh, weld
    from relight.geometry.carving import photo_carve
    from relight.geometry.config import PRESETS
    from relight.geometry.hull import hull_occupancy, occupancy_mesh

    res = res or PRESETS["fast"].hull_res
    for name in objects:
        cap_dir = Path("out/bench/suite") / name
        cap = load_capture(cap_dir)
        gt = load_mesh(cap_dir / "gt/mesh.obj")
        gv, gf = np.asarray(gt.vertices, float), np.asarray(gt.faces)
        first, inv = weld(gv)  # the atlas splits vertices along its seams
        gv, gf = gv[first], inv[gf]
        diag = float(np.linalg.norm(gv.max(0) - gv.min(0)))
        occ, lo, hi = hull_occupancy(cap, res)
        t = time.perf_counter()
        carved, st = photo_carve(cap, occ > 0.5, lo, hi, pct=pct)
        row = {"object": name, "hull_res": res, "pct": pct, "date": time.strftime("%Y-%m-%d"),
               "seconds": round(time.perf_counter() - t, 1), "carved": st.carved, "restored": st.restored,
               "undone": st.undone, "threshold": round(st.threshold, 4), "passes": st.passes,
               "hull": compare(occupancy_mesh(occ, lo, hi), gv, gf, diag),
               "carved_hull": compare(occupancy_mesh(carved, lo, hi), gv, gf, diag)}
        append_row(HULL_ROWS, row)
        print(json.dumps(row), flush=True)


def table() -> str:
    L = [HEADER, "## The hull before and after carving (`bench_carving.py hull OBJ`)", "",
         "Vertices *far*: more than 1 % of the GT diagonal from the GT surface (*out*: of them, outside it); "
         "*GT p99*: the GT surface's 99th-percentile distance to the mesh (% of the diagonal). Carving time "
         "on the 2-core machine (other runs may have shared it).", "",
         "| object | grid | threshold | carved / kept for silhouettes / refilled voxels | genus | far (out) | GT p99 | s |",
         "|---|---|---|---|---|---|---|---|"]
    for r in read_rows(HULL_ROWS):
        h, c = r["hull"], r["carved_hull"]
        L.append(f"| {r['object']} | {r['hull_res']}³ | {r['threshold']:.3f} | {r['carved']} / {r['restored']} / {r['undone']} | "
                 f"{h['genus']} → {c['genus']} | {100 * h['far']:.2f} % ({h['far_outside']:.0%}) → "
                 f"{100 * c['far']:.2f} % ({c['far_outside']:.0%}) | {100 * h['gt_to_mesh_p99']:.2f} → "
                 f"{100 * c['gt_to_mesh_p99']:.2f} % | {r['seconds']} |")
    L += ["", "## The geometry stage with and without carving (`bench_geometry_ceiling.py`)", "",
          "Reproduce a row: `.venv/bin/python bench/bench_geometry_ceiling.py TAG --set carve=95 --capture "
          "out/bench/suite/OBJ --spp 64 --out results/carving.jsonl`. *ceiling*: relight PSNR (mean over the "
          "relit envmaps, 8 test views, 64 spp) of the fitted mesh with GT materials and light; *band*: within "
          "2 px of a silhouette; *albedo*: the oracle's albedo PSNR through the mesh's atlas.", "",
          "| run | carve | normal MAE ° | Chamfer % | mask IoU | ceiling dB | band dB | interior dB | albedo dB | note |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in read_rows(GEO_ROWS):
        L.append(f"| {r['tag']} | {r['set'].get('carve', 0)} | {r['normal_mae']:.3f} | {100 * r['chamfer']:.4f} | "
                 f"{r['mask_iou']:.4f} | {r['relight_psnr_mean']:.2f} | {r['band_psnr_mean']:.2f} | "
                 f"{r['interior_psnr_mean']:.2f} | {r['albedo_psnr']:.2f} | {r.get('note', '')} |")
    return "\n".join(L) + "\n"


def main() -> None:
    if sys.argv[1:] == ["--table"]:
        Path("results/carving.md").write_text(table())
        print(Path("results/carving.md").read_text())
        return
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mode", choices=["hull"])
    ap.add_argument("objects", nargs="+")
    ap.add_argument("--pct", type=float, default=95.0)
    ap.add_argument("--res", type=int, default=None, help="hull grid (default: the fast preset's hull_res)")
    a = ap.parse_args()
    hull_rows(a.objects, a.pct, a.res)


if __name__ == "__main__":
    main()
