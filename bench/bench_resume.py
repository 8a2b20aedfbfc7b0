"""Resume equivalence of `relight fit`: interrupted runs vs. an uninterrupted one.

Three real processes on the same capture and settings: (1) uninterrupted; (2) SIGINT once the
geometry stage is half done, then the printed `--resume` command; (3) SIGKILL once the material
stage is half done, then `--resume`. Reports every metric of the three and the largest
difference to (1). Default threads (all cores), as a user runs it.

Usage: .venv/bin/python bench/bench_resume.py [--res 64 --views 24] [--out results/resume]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def relight(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def step_of(ckpt: Path) -> int:
    meta = ckpt.with_suffix(".json")
    return json.loads(meta.read_text())["step"] if meta.is_file() else -1


def interrupt_at(argv: list[str], ckpt: Path, at_step: int, sig: int) -> tuple[str, float]:
    p = relight(*argv)
    t = time.perf_counter()
    while step_of(ckpt) < at_step:
        if p.poll() is not None:
            raise SystemExit(f"run ended before step {at_step}: {p.communicate()[1][-2000:]}")
        time.sleep(0.05)
    p.send_signal(sig)
    _, err = p.communicate()
    return err.strip().splitlines()[-1] if err.strip() else "", time.perf_counter() - t


def run(argv: list[str]) -> float:
    t = time.perf_counter()
    p = relight(*argv)
    _, err = p.communicate()
    if p.returncode:
        raise SystemExit(err[-3000:])
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--views", type=int, default=24)
    ap.add_argument("--geometry-iterations", type=int, default=300)
    ap.add_argument("--material-iterations", type=int, default=400)
    ap.add_argument("--out", default="results/resume")
    a = ap.parse_args()
    work = ROOT / "out/bench/resume"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cap = work / "capture"
    run(["synth", "spot", "-o", str(cap), "--res", str(a.res), "--views", str(a.views), "--test-views", "4", "-q"])
    (work / "g.toml").write_text(f"image_res = {a.res}\ncheckpoint_every = 10\n")
    (work / "m.toml").write_text("checkpoint_every = 10\n")

    def argv(name):
        return ["fit", str(cap), "-o", str(work / name), "--geometry-config", str(work / "g.toml"),
                "--material-config", str(work / "m.toml"), "--geometry-iterations", str(a.geometry_iterations),
                "--material-iterations", str(a.material_iterations), "-q", "--device", "cpu"]

    times = {"uninterrupted": run(argv("ref"))}
    g_at, m_at = a.geometry_iterations // 2, a.material_iterations // 2
    line, t1 = interrupt_at(argv("sigint"), work / ".sigint.ckpt/geometry/geom.npz", g_at, signal.SIGINT)
    resume = shlex.split(line.split("continue with: ")[1])[1:]
    times["sigint + resume"] = t1 + run(resume)
    _, t2 = interrupt_at(argv("sigkill"), work / ".sigkill.ckpt/material/ckpt.npz", m_at, signal.SIGKILL)
    times["sigkill + resume"] = t2 + run(argv("sigkill") + ["--resume"])

    keys = ["albedo_psnr", "relight_psnr_mean", "novel_view_psnr", "roughness_mae", "normal_mae", "chamfer", "mask_iou"]
    runs = {n: json.loads((work / d / "metrics.json").read_text())
            for n, d in (("uninterrupted", "ref"), ("sigint + resume", "sigint"), ("sigkill + resume", "sigkill"))}
    diff = {k: max(abs(runs[n][k] - runs["uninterrupted"][k]) for n in runs) for k in keys}
    row = {"date": time.strftime("%Y-%m-%d"), "res": a.res, "views": a.views,
           "geometry_iterations": a.geometry_iterations, "material_iterations": a.material_iterations,
           "sigint_line": line, "interrupt_steps": {"geometry": g_at, "material": m_at},
           "metrics": {n: {k: r[k] for k in keys} for n, r in runs.items()}, "max_abs_difference": diff,
           "seconds": {k: round(v, 1) for k, v in times.items()}}
    out = ROOT / a.out
    out.with_suffix(".json").write_text(json.dumps(row, indent=2) + "\n")
    lines = [f"# Resume equivalence of `relight fit` ({row['date']})", "",
             f"spot, {a.res}² images, {a.views} train views; `fast` preset with {a.geometry_iterations} geometry + "
             f"{a.material_iterations} material steps, checkpoints every 10 steps, all cores (CPU). Runs: "
             f"uninterrupted; SIGINT at geometry step ≥ {g_at} then the printed resume command; SIGKILL at "
             f"material step ≥ {m_at} then `--resume`.", "",
             f"Reproduce: `.venv/bin/python bench/bench_resume.py --res {a.res} --views {a.views}`", "",
             "| metric | " + " | ".join(runs) + " | max abs difference |", "|---" * (len(runs) + 2) + "|"]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(f"{runs[n][k]:.4f}" for n in runs) + f" | {diff[k]:.2g} |")
    lines += ["", "| wall time (incl. interrupted part) | " + " | ".join(f"{times[n]:.0f} s" for n in runs) + " | |", "",
              f"SIGINT message: `{line}`"]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
