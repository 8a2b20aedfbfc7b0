"""Issue 18's diagnosis ladder, and the peer a user would write instead, on the same captures.

For each object (captures as in bench_suite.py: 64 + 8 views at 256², relit sets; CPU ``fast``):

  (a) material stage on the GT mesh with its own UVs
  (b) material stage on the GT mesh with an xatlas atlas        (a - b: the atlas' share)
  (c) full ``relight fit`` (reconstructed mesh, xatlas atlas)   (b - c: geometry + its material fit)
  (d) the reconstructed mesh's ceiling: GT materials and light transferred to its texels
      (bench_mesh_ceiling.oracle_asset)                          (d - c: the material fit's share)
  peer: the Mitsuba 3 inverse-rendering tutorial recipe on (c)'s mesh and atlas (bench/peer.py:
      ``prb``, plain L2, Adam, no priors, no coarse-to-fine, the same steps and spp as ``fast``).

All rows are evaluated with relight's protocol (``relight eval``: 256 spp, the capture's render
depth). Writes results/ladder.json and results/ladder.md.

``--from-suite`` takes (c) and the peer from the object's latest ``bench_suite.py --one NAME`` run
(``out/bench/suite/NAME.json`` and its ``NAME_fit`` asset, fitted and scored by the same code and
protocol) instead of fitting them again; (d) is then that asset's ceiling, so the four rows and
the peer are of one reconstructed mesh. (a) and (b) are fitted here.

Usage: .venv/bin/python bench/bench_ladder.py [--objects spot] [--from-suite] [--out results/ladder]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
SUITE = ROOT / "out/bench/suite"

from peer import peer_recipe  # noqa: E402  (bench/ is on the path above)

STEPS = ("a_gt_mesh_own_uvs", "b_gt_mesh_xatlas", "c_reconstructed", "d_ceiling_of_c")
"""The ladder's four rows, from the GT mesh to the reconstructed mesh's ceiling."""


def steps_of(rows: dict) -> tuple[dict, dict, dict, dict] | None:
    """An object's four :data:`STEPS` rows (a, b, c, d), or None when one is missing."""
    return tuple(rows[k] for k in STEPS) if all(k in rows for k in STEPS) else None


def _metrics_row(m: dict, seconds: float, regions: dict | None) -> dict:
    return {"albedo_psnr": m["albedo_psnr"], "relight_psnr_mean": m["relight_psnr_mean"],
            "relight_psnr": m["relight_psnr"], "roughness_mae": m["roughness_mae"], "normal_mae": m["normal_mae"],
            "metallic_mae": m.get("metallic_mae"), "seconds": round(seconds, 1), "regions": regions}


def one(name: str, backend, save, from_suite: bool = False) -> dict:
    """The ladder of one object; ``save(partial)`` is called after each row (long runs)."""
    from bench_levers import error_regions
    from bench_mesh_ceiling import oracle_asset
    from bench_suite import MATERIAL_MODEL, asset_seconds, synth_once

    from relight.commands import fit
    from relight.commands.common import gt_mesh_of, load_splits
    from relight.data.asset import load_asset
    from relight.data.mesh import Mesh
    from relight.evaluation.evaluate import evaluate
    from relight.geometry.config import load_config as gload
    from relight.material.config import load_config as mload
    from relight.material.fit import fit_material
    from relight.material.uv import unwrap

    cap = synth_once(name, SUITE / name, backend, res=256, views=64)
    splits = load_splits(cap)
    gt, gt_mesh = load_asset(cap / "gt"), gt_mesh_of(cap)
    mcfg = mload("fast", **MATERIAL_MODEL.get(name, {}))
    rows = {}

    suite = json.loads((SUITE / f"{name}.json").read_text()) if from_suite else None
    if suite is not None:
        if not (SUITE / f"{name}_fit" / "asset.json").is_file():
            raise SystemExit(f"--from-suite: {SUITE / name}_fit has no asset; run bench_suite.py --one {name} first")
        # rows written before bench_suite recorded their date carry their file's
        suite.setdefault("date", time.strftime("%Y-%m-%d", time.localtime((SUITE / f"{name}.json").stat().st_mtime)))

    def record(key, asset, seconds, metrics: dict | None = None):
        m = metrics or evaluate(asset, splits.test, backend, gt_mesh=gt_mesh).to_json()
        rows[key] = _metrics_row(m, seconds, error_regions(asset, splits.test, backend) if asset else None)
        print(name, key, json.dumps(rows[key]), flush=True)
        save({"object": name, "rows": rows, **({"suite_date": suite["date"]} if suite else {})})

    t = time.perf_counter()
    res = fit_material(splits.train, gt.mesh.with_normals(), mcfg, backend)
    record("a_gt_mesh_own_uvs", res.asset, time.perf_counter() - t)
    t = time.perf_counter()
    atlas = unwrap(Mesh(gt.mesh.vertices, gt.mesh.faces), mcfg.tex_res).with_normals()
    res = fit_material(splits.train, atlas, mcfg, backend)
    record("b_gt_mesh_xatlas", res.asset, time.perf_counter() - t)
    t = time.perf_counter()
    out = SUITE / f"{name}_fit"
    if suite is None:
        fit.run(cap, out, gload("fast"), mcfg, backend, overwrite=True, evaluate_after=False)
        fitted = load_asset(out)
        record("c_reconstructed", fitted, time.perf_counter() - t)
    else:  # capture to asset, as the suite times it
        fitted = load_asset(out)
        record("c_reconstructed", fitted, asset_seconds(suite), suite["metrics"])
    t = time.perf_counter()
    oracle, _ = oracle_asset(fitted, gt, mcfg.tex_res)
    record("d_ceiling_of_c", oracle, time.perf_counter() - t)
    if suite is not None:
        if "baseline_metrics" in suite:
            record("peer_on_c_mesh", None, suite["baseline_seconds"], suite["baseline_metrics"])
        return {"object": name, "rows": rows, "suite_date": suite["date"]}
    t = time.perf_counter()
    peer = peer_recipe(splits.train, fitted.mesh, backend, steps=mcfg.iterations, spp=mcfg.spp, tex_res=mcfg.tex_res,
                       env_width=mcfg.env_width, max_depth=mcfg.max_depth, metallic=mcfg.metallic)
    record("peer_on_c_mesh", peer, time.perf_counter() - t)
    return {"object": name, "rows": rows}


def markdown(results: list[dict]) -> str:
    lines = [f"# Diagnosis ladder and peer ({time.strftime('%Y-%m-%d')}, CPU, `fast`)", "",
             "Reproduce: `.venv/bin/python bench/bench_ladder.py --objects spot,knot,blob,vase,bottle --from-suite` "
             "after `bench_suite.py --one NAME` of each (rows a, b, d: about 10 min per object on 2 cores; without "
             "`--from-suite` (c) and the peer are fitted too: about 45 min). Captures: 64 + 8 views at 256² (bench_suite's). Every row is evaluated with the "
             "`relight eval` protocol (256 spp). Rows: (a) material stage on the GT mesh and UVs; (b) the GT "
             "mesh with an xatlas atlas; (c) full `relight fit`; (d) (c)'s mesh with GT materials and light "
             "(its ceiling); peer: the Mitsuba tutorial recipe (prb, plain L2, Adam, no priors, no "
             "coarse-to-fine, 2000 steps x 8 spp) on (c)'s mesh and atlas. *seconds*: as run (with "
             "`--from-suite`, (c) is the suite's capture-to-asset time); rows that shared the cores are not "
             "timings.", "",
             "*Regions* (rows measured since the breakdown was added): albedo PSNR (share of the squared "
             "error) on the 2-px silhouette band / GT texture edges / flat interior (bench_levers.error_regions).", "",
             "| object | row | albedo PSNR | relight PSNR (mean) | min over envmaps | roughness MAE | metallic MAE | "
             "regions | seconds |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for key, v in r["rows"].items():
            lo = min(v["relight_psnr"].values()) if v["relight_psnr"] else float("nan")
            reg = " / ".join(f"{g['psnr']:.1f} ({100 * g['share']:.0f} %)" for g in v["regions"].values()) \
                if v.get("regions") else "—"
            met = "—" if v.get("metallic_mae") is None else f"{v['metallic_mae']:.3f}"
            lines.append(f"| {r['object']} | {key} | {v['albedo_psnr']:.2f} | {v['relight_psnr_mean']:.2f} | "
                         f"{lo:.2f} | {v['roughness_mae']:.3f} | {met} | {reg} | {v['seconds']:.0f} |")
        rows = r["rows"]
        if "c_reconstructed" in rows and "peer_on_c_mesh" in rows:
            c, p = rows["c_reconstructed"], rows["peer_on_c_mesh"]
            lines.append(f"| {r['object']} | ours / peer | {c['albedo_psnr'] - p['albedo_psnr']:+.2f} dB | "
                         f"{c['relight_psnr_mean'] - p['relight_psnr_mean']:+.2f} dB | | "
                         f"{c['roughness_mae'] - p['roughness_mae']:+.3f} | | | |")
    lines += ["", "## Steps of the ladder (albedo / relight dB)", "",
              "*atlas*: (a) - (b); *geometry*: (b) - (c), the reconstructed mesh and the fit on it; *fit's share*: "
              "(d) - (c), what the material fit loses against GT materials on that mesh (negative: the fit beats "
              "the transferred GT texture, whose texels the misplaced surface samples off).", "",
              "| object | (a) | atlas | geometry | (c) | (d) ceiling | fit's share |", "|---|---|---|---|---|---|---|"]
    for r in results:
        if (steps := steps_of(r["rows"])) is None:
            continue
        a, b, c, d = steps

        def pair(x, y=None):
            if y is None:
                return f"{x['albedo_psnr']:.2f} / {x['relight_psnr_mean']:.2f}"
            return f"{x['albedo_psnr'] - y['albedo_psnr']:+.2f} / {x['relight_psnr_mean'] - y['relight_psnr_mean']:+.2f}"
        lines.append(f"| {r['object']} | {pair(a)} | {pair(a, b)} | {pair(b, c)} | {pair(c)} | {pair(d)} | "
                     f"{pair(d, c)} |")
    dated = [f"{r['object']} {r['suite_date']}" for r in results if "suite_date" in r]
    if dated:
        lines += ["", "(c) and the peer of " + ", ".join(dated) + ": from that day's `bench_suite.py --one` run "
                  "(`--from-suite`; the same rows as `benchmark.md`)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    from relight.runtime.backend import select_backend

    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", default="spot")
    ap.add_argument("--from-suite", action="store_true", help="(c) and the peer from bench_suite.py --one NAME")
    ap.add_argument("--out", default="results/ladder")
    a = ap.parse_args()
    backend = select_backend("cpu")
    out = Path(a.out)
    done = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").is_file() else []
    done = [r for r in done if r["object"] not in a.objects.split(",")]
    def save(results):
        out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(results))

    for name in a.objects.split(","):
        done.append(one(name, backend, lambda part: save([*done, part]), a.from_suite))
        save(done)


if __name__ == "__main__":
    main()
