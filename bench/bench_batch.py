"""`relight batch` on Ray vs. plain `relight fit`: throughput, per-capture overhead, memory per
worker, equality of the metrics, and a projection to N GPU nodes.

Four built-in scenes (blob, bottle, knot, vase; not tuned on) are synthesized small, then fitted
(fit + eval, the same settings) three ways, one after the other on this machine:
(1) `relight fit` once per capture, each in its own process (a shell loop);
(2) `relight batch --workers 1` (one task at a time with all cores);
(3) `relight batch --workers 2` (two tasks at once, one core each).

Usage: .venv/bin/python bench/bench_batch.py [--res 64 --views 16 --giters 200 --miters 40]
       [--work out/bench/batch] [--out results/batch.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENES = ("blob", "bottle", "knot", "vase")
KEYS = ("relight_psnr_mean", "novel_view_psnr", "albedo_psnr", "mask_iou", "normal_mae")


def relight(*args: str) -> float:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if p.returncode not in (0,):
        raise SystemExit(f"relight {' '.join(args)} failed ({p.returncode}): {p.stderr[-3000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--views", type=int, default=16)
    ap.add_argument("--giters", type=int, default=200)
    ap.add_argument("--miters", type=int, default=40)
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "bench" / "batch")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "batch.md")
    ap.add_argument("--reuse", action="store_true", help="keep the runs already in --work/timings.json")
    a = ap.parse_args()
    work = a.work
    caps = work / "caps"
    for s in SCENES:
        if not (caps / s).is_dir():
            relight("synth", s, "-o", str(caps / s), "--res", str(a.res), "--views", str(a.views), "--test-views", "4",
                    "--spp", "32", "--test-spp", "64", "-q", "--device", "cpu")
    g, m = work / "geometry.toml", work / "material.toml"
    g.write_text(f"iterations = {a.giters}\n")
    m.write_text(f"iterations = {a.miters}\n")
    manifest = work / "manifest.toml"
    manifest.write_text(f'[defaults]\nstages = ["fit", "eval"]\npreset = "fast"\n'
                        f'geometry = {{ iterations = {a.giters} }}\nmaterial = {{ iterations = {a.miters} }}\n'
                        f'[[captures]]\nglob = "caps/*"\n')

    timings = work / "timings.json"
    done = json.loads(timings.read_text()) if a.reuse and timings.is_file() else {}
    for run in ("seq", "seq_again"):  # the plain loop twice: its own run-to-run difference
        if run in done:
            continue
        shutil.rmtree(work / run, ignore_errors=True)
        done[run] = {}
        for s in SCENES:
            done[run][s] = relight("fit", str(caps / s), "-o", str(work / run / s), "--geometry-config", str(g),
                                   "--material-config", str(m), "--preset", "fast", "-q", "--device", "cpu")
            print(f"{run}: relight fit {s}: {done[run][s]:.1f} s", flush=True)
        timings.write_text(json.dumps(done))
    for workers in (1, 2):
        out = work / f"batch{workers}"
        if f"batch{workers}" in done:
            continue
        shutil.rmtree(out, ignore_errors=True)
        done[f"batch{workers}"] = relight("batch", str(manifest), "-o", str(out), "--workers", str(workers), "-q")
        print(f"relight batch --workers {workers}: {done[f'batch{workers}']:.1f} s", flush=True)
        timings.write_text(json.dumps(done))
    runs = {w: (done[f"batch{w}"], json.loads((work / f"batch{w}" / "batch.json").read_text())) for w in (1, 2)}
    write_report(a, done["seq"], runs, work / "seq", work / "seq_again")


def write_report(a, seq: dict, runs: dict, seq_dir: Path, again_dir: Path) -> None:
    n = len(SCENES)
    seq_wall = sum(seq.values())
    lines = ["# `relight batch` on Ray vs. plain `relight fit`", "",
             f"Reproduce: `.venv/bin/python bench/bench_batch.py --res {a.res} --views {a.views} --giters {a.giters} "
             f"--miters {a.miters}` (2-core x86_64 VM, no GPU, CPU `llvm_ad_rgb`; runs one after the other).", "",
             f"Captures: {', '.join(SCENES)} (built-in scenes, {a.res}² px, {a.views} train + 4 test views); "
             f"settings: preset fast, geometry {a.giters} and material {a.miters} iterations, fit + eval.", "",
             "## Throughput and overhead", "",
             "| run | wall (s) | captures / hour | Ray start (s) | per capture: submit→done (s) | "
             "process start + imports (s) | fit (s) |", "|---|---|---|---|---|---|---|",
             f"| `relight fit` x {n}, one process each | {seq_wall:.0f} | {3600 * n / seq_wall:.1f} | — | "
             f"{seq_wall / n:.1f} (process) | — | — |"]
    for w, (wall, rep) in runs.items():
        recs = rep["captures"]
        s2d = sum(r["seconds"].get("submitted_to_done", 0) for r in recs) / n
        start = sum(r["seconds"].get("startup", 0) for r in recs) / n
        fit = sum(r["seconds"].get("fit", 0) for r in recs) / n
        lines.append(f"| `relight batch --workers {w}` ({2 // w} thread{'s' if w == 1 else ''} a task) | {wall:.0f} | "
                     f"{3600 * n / wall:.1f} | {rep['ray_start_seconds']:.1f} | {s2d:.1f} | {start:.1f} | {fit:.1f} |")
    w1 = runs[1][0]
    lines += ["", f"Overhead of Ray with one worker against the plain loop: {(w1 - seq_wall):+.0f} s in all, "
              f"{(w1 - seq_wall) / n:+.1f} s a capture (Ray's start is paid once; every capture gets a fresh "
              "worker process, `max_calls=1`, which pays the same interpreter + torch + Mitsuba start as a "
              "`relight fit` process does).", "",
              "## Memory per worker", "",
              "| capture | peak RSS of its worker (MiB), 1 worker | 2 workers | declared to Ray (relight's estimate, MiB) |",
              "|---|---|---|---|"]
    by = {w: {r["name"]: r for r in rep["captures"]} for w, (_, rep) in runs.items()}
    for s in SCENES:
        lines.append(f"| {s} | {by[1][s].get('peak_rss_mib', '—')} | {by[2][s].get('peak_rss_mib', '—')} | "
                     f"{by[1][s].get('declared_memory_mib', '—')} |")
    lines += ["", "## Same results as `relight fit`", "",
              "| capture | metric | `relight fit` | `relight fit` again | batch, 1 worker | batch, 2 workers |",
              "|---|---|---|---|---|---|"]
    worst, noise = {w: 0.0 for w in runs}, 0.0
    for s in SCENES:
        ref = json.loads((seq_dir / s / "metrics.json").read_text())
        rerun = json.loads((again_dir / s / "metrics.json").read_text())
        got = {w: json.loads((Path(by[w][s]["outputs"]["asset"]) / "metrics.json").read_text()) for w in runs}
        for k in KEYS:
            if ref.get(k) is None:
                continue
            if k != "normal_mae":
                worst = {w: max(worst[w], abs(got[w][k] - ref[k])) for w in runs}
                noise = max(noise, abs(rerun[k] - ref[k]))
            lines.append(f"| {s} | {k} | {ref[k]:.5f} | {rerun[k]:.5f} | {got[1][k]:.5f} | {got[2][k]:.5f} |")
    lines += ["", "Largest difference in a PSNR or IoU (dB, or IoU units): `relight fit` vs. itself (the same "
              f"command twice, 2 threads) **{noise:.2g}**; batch with 1 worker (2 threads, as `relight fit`) vs. "
              f"`relight fit` **{worst[1]:.2g}**; batch with 2 workers (1 thread each) vs. `relight fit` "
              f"**{worst[2]:.2g}**. Same code, same seed; with more than one thread the order in which Mitsuba "
              "and torch sum gradients atomically changes from run to run, and the remesh and the optimizer "
              "carry last-bit differences through hundreds of steps; a different thread count changes the "
              "trajectory more. With one thread on both sides a batch task and `relight fit` give identical "
              "numbers (checked by hand on the tiny test capture: every metric equal; tests/test_batch.py "
              "asserts 1e-3 dB across thread counts there).", ""]
    lines += projection(runs)
    a.out.write_text("\n".join(lines) + "\n")
    print(a.out.read_text())


def projection(runs: dict) -> list[str]:
    """A paper projection to N GPU nodes from the measured overheads (assumptions stated)."""
    from relight.geometry.config import load_config as gload
    from relight.material.config import load_config as mload
    from relight.runtime.resources import CaptureSize, estimate_fit

    rep = runs[1][1]
    start = sum(r["seconds"]["submitted_to_done"] - r["seconds"]["fit"] for r in rep["captures"]) / len(rep["captures"])
    res, views = 800, 100
    est = estimate_fit(CaptureSize(views, res, res, True, 8 * res * res * 4 * 13), "cuda",
                       gload("quality"), mload("quality"))
    gib = est.total / 2**30
    per_gpu = max(1, int(141 // gib))
    upload_mb = views * res * res * 4 * 1.0 / 2**20 * 0.5  # 8-bit RGBA PNG at ~2:1
    rows = ["## Projection to N GPU nodes (paper, not measured: no GPU here)", "",
            "Assumptions: a capture of 100 views at 800² (PNG ≈ "
            f"{upload_mb:.0f} MB), preset quality; GPU fit time T per capture is **assumed** (2, 5 or 10 min — "
            "the issue's \"minutes on a GPU\"; the CUDA path was not run here); per-task start "
            f"{start:.1f} s (measured above: submit→done minus the fit: worker process, imports, Ray); Ray's own "
            f"scheduling latency (milliseconds a task) neglected; 8 GPUs a node; relight's memory estimate for "
            f"such a capture on CUDA: {gib:.1f} GiB (a documented guess, `relight/runtime/resources.py`), so "
            f"up to {per_gpu} captures share a 141 GiB H200 (`--gpus-per-task {1 / per_gpu:.2g}`) if the "
            "GPU's compute, not its memory, is shared.", "",
            "| nodes x 8 GPUs | T = 2 min | T = 5 min | T = 10 min | input a node reads (MB/s at T = 2 min) |",
            "|---|---|---|---|---|"]
    for nodes in (1, 4, 16, 64):
        gpus = 8 * nodes
        cells = [f"{gpus * 3600 / (t * 60 + start):,.0f}/h" for t in (2, 5, 10)]
        rate = 8 * upload_mb / (2 * 60 + start)
        rows.append(f"| {nodes} | {' | '.join(cells)} | {rate:.1f} |")
    rows += ["", "What limits scaling, in order: (1) the GPU fit time itself (throughput is linear in GPUs "
             "because captures are independent); (2) the shared file system every node reads captures from "
             "and writes assets to — each node reads only a few MB/s (table), so a 10 Gb/s NFS serves "
             "hundreds of nodes, but a cloud bucket mounted without caching can be the first wall; "
             "(3) per-task start: "
             f"{start:.1f} s against minutes of fitting, about {100 * start / 120:.0f} % at T = 2 min; (4) GPU memory: only captures larger than "
             "the estimate above need `--gpus-per-task 1`, and the driver refuses a capture no node can hold "
             "instead of letting Ray wait forever.", ""]
    return rows


if __name__ == "__main__":
    main()
