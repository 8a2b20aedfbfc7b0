"""Issue 18's last lever: vertex positions refined with the path-traced image loss.

Takes the suite's fitted asset of an object (``out/bench/suite/<object>_fit``: the reconstructed
mesh, its atlas, fitted textures and light) and moves its vertices to lower the material stage's
image loss (``relative_l2``; background pixels weighted too, so outlines can move), one random
training view per step, rendered by Mitsuba's ``prb_projective`` (silhouette gradients by
projective sampling; guiding off and ``sppi`` = 0, i.e. no indirect-visibility discontinuities:
1.5 s a view at 256² and 8 spp on 2 cores; 3 s at 16 spp, where the integrator's defaults
take 55-60 s).

The update is the geometry stage's Large Steps one (:mod:`relight.geometry.largesteps`): welded
positions (the atlas splits vertices along its seams; the copies move together), ``u = (I + λL) x``,
the uniform Adam; shading normals are recomputed from the positions in torch (area-weighted, as
:func:`relight.data.mesh.smooth_normals`) and handed to Mitsuba with the positions, so their
gradients flow too (Mitsuba would recompute them per split vertex, with creases at the seams).

``--materials fit`` keeps the fitted textures and light; ``oracle`` uses GT materials transferred
to the mesh and the GT light (the lever's ceiling: what the loss can do for geometry when the
materials are right); ``--joint-lr`` also updates albedo and roughness (Adam) from the same
renders. Each row is evaluated (``relight eval`` protocol, 256 spp) as it comes out and as the
refined mesh's own ceiling (GT materials and light transferred at 512², bench_mesh_ceiling), with
the normal MAE against the GT surface; rows go to results/vertex_refine.jsonl / .md.

Usage: .venv/bin/python bench/bench_vertex_refine.py NAME --object spot --steps 150 --lr 2e-3
           [--materials fit|oracle] [--joint-lr 0.003] [--spp 8] [--lam 20]
       .venv/bin/python bench/bench_vertex_refine.py --markdown
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rows import append_row, rewrite_markdown

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "out/bench/suite"
OUT = ROOT / "results/vertex_refine"
sys.path.insert(0, str(ROOT / "bench"))


class Welded:
    """The atlas mesh's vertices welded by position (:func:`relight.data.mesh.weld`), with torch
    normals of the welded mesh (the differentiable twin of :func:`relight.data.mesh.smooth_normals`)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        import torch

        from relight.data.mesh import weld

        first, inv = weld(vertices)
        self.inv = torch.tensor(inv)
        self.faces = inv[faces]
        self.x0 = torch.tensor(vertices[first], dtype=torch.float32)
        self._f = torch.tensor(self.faces)

    def normals(self, x):
        import torch

        f = self._f
        fn = torch.cross(x[f[:, 1]] - x[f[:, 0]], x[f[:, 2]] - x[f[:, 0]], dim=1)
        acc = x.new_zeros(x.shape).index_add(0, f[:, 0], fn).index_add(0, f[:, 1], fn).index_add(0, f[:, 2], fn)
        return acc / acc.norm(dim=1, keepdim=True).clamp_min(1e-20)


def refine(asset, capture, backend, steps: int, lr: float, lam: float, spp: int, joint_lr: float, seed: int = 0):
    """``asset`` with refined vertex positions (and, with ``joint_lr``, albedo / roughness)."""
    import drjit as dr
    import torch

    from relight.geometry.largesteps import LaplacianSolver, UniformAdam
    from relight.material.losses import relative_l2, relative_weight
    from relight.material.optim import Adam
    from relight.render.mitsuba import KA, KR, build_scene, sensor

    mi = backend.mitsuba()
    scene = build_scene(backend, asset, 3, integrator="prb")
    params = mi.traverse(scene)
    integ = mi.load_dict({"type": "prb_projective", "max_depth": 3, "hide_emitters": True, "guiding": "none",
                          "sppi": 0})
    w = Welded(asset.mesh.vertices, asset.mesh.faces)
    solver = LaplacianSolver(w.faces, len(w.x0), lam)
    u = solver.to_differential(w.x0).clone().requires_grad_(True)
    opt = UniformAdam([u], lr=lr)
    tex = {"albedo": asset.albedo.astype(np.float32).copy(), "roughness": asset.roughness[..., None].astype(np.float32).copy()}
    tex_adam = Adam({k: joint_lr for k in tex}, beta2=0.999)  # plain Adam on the texels
    rng, targets = np.random.default_rng(seed), {}
    for s in range(steps):
        v = int(rng.integers(len(capture)))
        if v not in targets:
            img, m = capture.images[v], capture.masks[v]
            wt = relative_weight(img, m)
            wt = np.where(m[..., None] > 0, wt, wt[m > 0].mean())  # background counts: outlines move
            targets[v] = (mi.TensorXf(np.ascontiguousarray(img, dtype=np.float32)), mi.TensorXf(np.ascontiguousarray(wt)))
        xw = solver.from_differential(u)
        x, n = xw[w.inv], w.normals(xw)[w.inv]
        tx, tn = mi.Float(x.detach().numpy().ravel()), mi.Float(n.detach().numpy().ravel())
        dr.enable_grad(tx), dr.enable_grad(tn)
        params["object.vertex_positions"], params["object.vertex_normals"] = tx, tn  # both: no recompute
        handles = {}
        if joint_lr:
            for k, key in (("albedo", KA), ("roughness", KR)):
                handles[k] = mi.TensorXf(np.ascontiguousarray(tex[k]))
                dr.enable_grad(handles[k])
                params[key] = handles[k]
        params.update()
        img = mi.render(scene, params, integrator=integ, sensor=sensor(backend, capture.cameras[v], spp, pixel_format="rgb"),
                        spp=spp, seed=2 * s, seed_grad=2 * s + 1)
        dr.backward(relative_l2(img, *targets[v]))
        gx = torch.tensor(np.nan_to_num(np.array(dr.grad(tx))).reshape(-1, 3))
        gn = torch.tensor(np.nan_to_num(np.array(dr.grad(tn))).reshape(-1, 3))
        opt.zero_grad()
        torch.autograd.backward([x, n], [gx, gn])
        opt.step()
        if handles:
            tex_adam.step(tex, {k: np.nan_to_num(np.array(dr.grad(h))).reshape(tex[k].shape) for k, h in handles.items()})
            np.clip(tex["albedo"], 0.0, 1.0, out=tex["albedo"])
            np.clip(tex["roughness"], 0.02, 1.0, out=tex["roughness"])
        if s % 25 == 0:
            d = (solver.from_differential(u).detach() - w.x0).norm(dim=1)
            print(f"step {s}/{steps}: moved mean {d.mean():.2e} max {d.max():.2e}", flush=True)
    x = solver.from_differential(u).detach().numpy()[w.inv.numpy()]
    mesh = replace(asset.mesh, vertices=x.astype(np.float32), normals=None)
    out = replace(asset, mesh=mesh)
    if joint_lr:
        out = replace(out, albedo=tex["albedo"], roughness=tex["roughness"][..., 0])
    return out


def run(name: str, obj: str, steps: int, lr: float, lam: float, spp: int, materials: str, joint_lr: float) -> dict:
    from bench_levers import error_regions
    from bench_mesh_ceiling import oracle_asset

    from relight.commands.common import load_splits
    from relight.data.asset import load_asset, save_asset
    from relight.evaluation.evaluate import evaluate
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    splits, gt = load_splits(SUITE / obj), load_asset(SUITE / obj / "gt")
    fitted = load_asset(SUITE / f"{obj}_fit")
    start = oracle_asset(fitted, gt, 512)[0] if materials == "oracle" else fitted
    t = time.perf_counter()
    refined = refine(start, splits.train, backend, steps, lr, lam, spp, joint_lr) if steps else start
    seconds = time.perf_counter() - t
    if materials == "oracle":  # the refined mesh with the fitted materials, for the "as is" columns
        refined = replace(fitted, mesh=refined.mesh)
    save_asset(refined, ROOT / "out/bench/vertex_refine" / f"{obj}_{name}")
    row = {"name": name, "object": obj, "steps": steps, "lr": lr, "lam": lam, "spp": spp, "materials": materials,
           "joint_lr": joint_lr, "date": time.strftime("%Y-%m-%d"), "seconds": round(seconds, 1)}
    for tag, a in (("asis", refined), ("ceiling", oracle_asset(refined, gt, 512)[0])):
        ev = evaluate(a, splits.test, backend).to_json()
        row[tag] = {"albedo_psnr": ev["albedo_psnr"], "relight_psnr_mean": ev["relight_psnr_mean"],
                    "normal_mae": ev.get("normal_mae"), "regions": error_regions(a, splits.test, backend)}
    append_row(OUT.with_suffix(".jsonl"), row)
    return row


def markdown(rows: list[dict]) -> str:
    L = ["# Vertex positions refined with the path-traced loss (issue 18)", "",
         "Reproduce a row: `.venv/bin/python bench/bench_vertex_refine.py NAME --object OBJ --steps N --lr LR "
         "[--materials fit|oracle] [--joint-lr LR]` (see the script's docstring; bench_suite captures, 64 + 8 "
         "views at 256², one view a step at the given spp, `prb_projective`; evaluated at 256 spp). *As is*: the "
         "refined mesh with the fitted textures and light (or the jointly refined textures); *ceiling*: the refined "
         "mesh with GT materials and light transferred at 512² (what the mesh allows). Regions: albedo PSNR on the "
         "2-px silhouette band / GT texture edges / flat interior.", "",
         "| object | run | materials while refining | steps × spp | lr (λ) | texture lr | normal MAE | as is: albedo / relight | "
         "ceiling: albedo / relight | ceiling regions | seconds |", "|---" * 11 + "|"]
    for r in rows:
        a, c = r["asis"], r["ceiling"]
        reg = " / ".join(f"{g['psnr']:.1f}" for g in c["regions"].values())
        L.append(f"| {r['object']} | {r['name']} | {r['materials']} | {r['steps']} × {r['spp']} | {r['lr']:g} ({r['lam']:g}) | "
                 f"{r['joint_lr'] or '—'} | {a['normal_mae']:.2f}° | {a['albedo_psnr']:.2f} / {a['relight_psnr_mean']:.2f} | "
                 f"{c['albedo_psnr']:.2f} / {c['relight_psnr_mean']:.2f} | {reg} | {r['seconds']:.0f} |")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", nargs="?")
    ap.add_argument("--object", default="spot")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lam", type=float, default=20.0)
    ap.add_argument("--spp", type=int, default=8)
    ap.add_argument("--materials", choices=["fit", "oracle"], default="fit")
    ap.add_argument("--joint-lr", type=float, default=0.0)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if not a.markdown:
        print(json.dumps(run(a.name, a.object, a.steps, a.lr, a.lam, a.spp, a.materials, a.joint_lr)))
    rewrite_markdown(OUT, markdown)


if __name__ == "__main__":
    main()
