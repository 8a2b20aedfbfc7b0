"""How much of a relight PSNR is the Monte Carlo noise of the two renders it compares?

`relight eval` compares the asset rendered at 256 spp with references that `relight synth`
rendered at 256 spp. Per pixel (sRGB, as the metric), with A the asset's render and R the
reference, independent noise gives

    E[(A - R)^2] = (E A - E R)^2 + Var A + Var R,

so the metric's mean squared error is the asset's own error (the first term) plus both renders'
noise. The noise is measured, not assumed: the asset is rendered twice with other seeds
(Var A ~ mean (A1 - A2)^2 / 2), and the capture's GT asset — the scene the references were
rendered from — twice as well (Var R ~ mean (G1 - G2)^2 / 2: G is distributed as R). The
*noise-free* estimate is the metric's MSE less both variances. Checks written in each row: the
GT asset itself scored by the metric (the protocol's ceiling: pure noise) and its noise-free
estimate (should be ~0, i.e. very high dB); and, on ``--check-views`` views, the asset and the GT
asset both rendered at ``--check-spp`` compared directly (what a converged render of each gives,
with its residual noise stated).

Usage: .venv/bin/python bench/bench_eval_noise.py CAPTURE ASSET [ASSET ...] [--tag T]
Rows go to results/eval_noise.jsonl; results/eval_noise.md is rewritten from it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rows import append_row, rewrite_markdown

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results/eval_noise"


def db(mse: float) -> float:
    return float("inf") if mse <= 0 else float(-10 * np.log10(mse))


def run(capture: Path, assets: list[Path], spp: int, check_spp: int, check_views: int, tag: str) -> list[dict]:
    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.data.images import linear_to_srgb, read_envmap
    from relight.evaluation.evaluate import aligned_asset
    from relight.evaluation.metrics import mse as ms
    from relight.evaluation.metrics import noise_free_mse, noise_free_psnr
    from relight.render.mitsuba import build_scene, render_views
    from relight.runtime.backend import select_backend

    backend = select_backend("cpu")
    test = load_splits(capture).test
    depth = test.max_depth or 6
    ref_spp = test.reference_spp or 256  # the references' samples, as the capture records them
    mask = np.asarray(test.masks) > 0.5
    gt = load_asset(capture / "gt")
    subjects = {"GT asset": gt} | {str(a): aligned_asset(load_asset(a), test, backend, depth) for a in assets}
    chk = list(range(min(check_views, len(test))))

    def srgb_renders(asset, rv, seeds, n, cams):
        sc = build_scene(backend, asset.with_envmap(read_envmap(rv.envmap), rv.rotation_deg), depth)
        return [linear_to_srgb(render_views(backend, sc, cams, n, seed=s)[..., :3]) for s in seeds]

    rows = {k: {"capture": capture.name, "asset": k, "tag": tag, "spp": spp, "check_spp": check_spp,
                "check_views": len(chk), "date": time.strftime("%Y-%m-%d"), "envs": {}} for k in subjects}
    for name, rv in test.relit.items():
        t0 = time.time()
        ref = linear_to_srgb(rv.images)
        g1, g2 = srgb_renders(gt, rv, (101, 202), ref_spp, test.cameras)
        var_r = ms(g1, g2, mask) / 2
        gc = srgb_renders(gt, rv, (303,), check_spp, [test.cameras[i] for i in chk])[0]
        for k, a in subjects.items():
            a1, a2 = (g1, g2) if k == "GT asset" and spp == ref_spp else srgb_renders(a, rv, (11, 404), spp,
                                                                                       test.cameras)
            var_a = ms(a1, a2, mask) / 2
            ac = gc if k == "GT asset" else srgb_renders(a, rv, (505,), check_spp, [test.cameras[i] for i in chk])[0]
            c = (chk, mask[chk])
            var_ac, var_rc = ms(a1[chk], a2[chk], c[1]) / 2, ms(g1[chk], g2[chk], c[1]) / 2  # on the check views
            # the check renders' own noise, scaled from the variances measured at `spp` / `ref_spp`
            resid = (var_ac * spp + var_rc * ref_spp) / check_spp if k != "GT asset" else 0.0
            conv = ms(ac, gc, c[1])
            rows[k]["envs"][name] = {
                "metric_db": round(db(ms(a1, ref, mask)), 3), "var_asset": var_a, "var_ref": var_r,
                "noise_free_db": round(noise_free_psnr(noise_free_mse(a1, a2, ref, g1, g2, mask)), 3),
                "metric_db_check_views": round(db(ms(a1[chk], ref[chk], c[1])), 3),
                "noise_free_db_check_views": round(noise_free_psnr(
                    noise_free_mse(a1[chk], a2[chk], ref[chk], g1[chk], g2[chk], c[1])), 3),
                "converged_db_check_views": round(db(conv), 3) if k != "GT asset" else None,
                "converged_less_resid_db": round(noise_free_psnr(conv - resid), 3) if k != "GT asset" else None,
                "converged_resid_noise_db": round(db(resid), 3) if resid else None}
        print(f"{name}: {time.time() - t0:.0f} s", {k: r["envs"][name]["noise_free_db"] for k, r in rows.items()},
              flush=True)
    for r in rows.values():
        e = r["envs"].values()
        r["metric_db_mean"] = round(float(np.mean([x["metric_db"] for x in e])), 3)
        r["noise_free_db_mean"] = round(float(np.mean([x["noise_free_db"] for x in e])), 3)
    return list(rows.values())


def markdown(rows: list[dict]) -> str:
    L = ["# The relight metric's Monte Carlo noise", "",
         "Reproduce: `.venv/bin/python bench/bench_eval_noise.py CAPTURE ASSET ...` (see its docstring). "
         "*metric*: relight PSNR as `relight eval` takes it (the asset at `spp` against the capture's "
         "references at 256 spp, sRGB, inside the GT masks). *noise-free*: the same MSE less the measured "
         "noise variance of both renders (`relight.evaluation.metrics.noise_free_mse`; 60 dB = at or below what "
         "the noise lets one measure). *check*: on the first `check views` test views only — the metric, "
         "the noise-free estimate, and the asset and GT asset both rendered at `check spp` and compared "
         "directly (*converged*; then the same less the check renders' own expected noise, and that noise "
         "in brackets as a PSNR). "
         "*GT asset*: the references' own scene — the protocol's ceiling.", "",
         "| capture | asset | tag | spp | metric mean | noise-free mean | per envmap: metric / noise-free "
         "(check: metric / noise-free / converged / converged less its noise [its noise]) | date |",
         "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = "; ".join(
            f"{n}: {e['metric_db']:.2f} / {e['noise_free_db']:.2f} ({e['metric_db_check_views']:.2f} / "
            f"{e['noise_free_db_check_views']:.2f}"
            + (f" / {e['converged_db_check_views']:.2f} / {e.get('converged_less_resid_db', float('nan')):.2f} "
               f"[{e['converged_resid_noise_db']:.1f}]"
               if e["converged_db_check_views"] is not None else "") + ")"
            for n, e in r["envs"].items())
        L.append(f"| {r['capture']} | {r['asset']} | {r['tag']} | {r['spp']} | {r['metric_db_mean']:.2f} | "
                 f"{r['noise_free_db_mean']:.2f} | {cells} | {r['date']} |")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", type=Path)
    ap.add_argument("assets", type=Path, nargs="*")
    ap.add_argument("--spp", type=int, default=256)
    ap.add_argument("--check-spp", type=int, default=4096)
    ap.add_argument("--check-views", type=int, default=1)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    for row in run(a.capture, a.assets, a.spp, a.check_spp, a.check_views, a.tag):
        append_row(OUT.with_suffix(".jsonl"), row)
    rewrite_markdown(OUT, markdown)


if __name__ == "__main__":
    main()
