"""The CUDA path on a lent GPU (brief; issue 18 item 5): Mitsuba ``cuda_ad_rgb`` against the CPU
``llvm_ad_rgb`` renders, and the ``quality`` preset's figures at 512² (full ``relight fit``).

The GPU machine has no libLLVM, so the CPU side of the parity check is rendered here first and
travels as a small ``.npz``; the fits there run one process per object (``bench_suite.one``).

Usage, here (CPU):    .venv/bin/python bench/bench_gpu.py ref out/gpu/ref.npz
on the GPU machine:   python3 bench/bench_gpu.py parity out/gpu/ref.npz $OUT/parity.json
                      python3 bench/bench_gpu.py fit spot --res 512 --root /tmp/gpu --out $OUT/spot.json
here, afterwards:     .venv/bin/python bench/bench_gpu.py report FILES... --out results/gpu
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from relight.runtime.progress import Reporter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
PARITY_SCENES = ("spot", "vase")
PARITY_RES, PARITY_SPP, PARITY_VIEWS = 128, 1024, 2
MEAN_TOL = 0.01
"""Parity: the CUDA and CPU renders' mean radiance agree within 1 % (the bound for independent
sample streams; on the H200 the two variants drew the same samples and agreed within 1e-5)."""


def renders(device: str) -> dict[str, np.ndarray]:
    """Each parity scene's GT asset under its own light, PARITY_VIEWS test views, linear RGBA."""
    from relight.render.mitsuba import build_scene, render_views
    from relight.render.scene import load_scene
    from relight.runtime.backend import select_backend

    backend = select_backend(device)
    out = {}
    for name in PARITY_SCENES:
        spec = load_scene(name).with_overrides(res=PARITY_RES)
        scene = build_scene(backend, spec.build_asset())
        out[name] = render_views(backend, scene, spec.test_cameras()[:PARITY_VIEWS], PARITY_SPP)
    return out


def parity(ref: Path) -> dict:
    """CUDA renders vs the CPU reference: relative mean difference and PSNR between the images."""
    cpu = np.load(ref, allow_pickle=False)
    t = time.perf_counter()
    gpu = renders("cuda")
    rows = {}
    for name, g in gpu.items():
        c = cpu[name]
        rel = float(abs(g[..., :3].mean() - c[..., :3].mean()) / c[..., :3].mean())
        mse = float(np.mean((np.clip(g[..., :3], 0, 1) - np.clip(c[..., :3], 0, 1)) ** 2))
        rows[name] = {"mean_rel_diff": round(rel, 5), "psnr_db": round(10 * np.log10(1 / max(mse, 1e-12)), 2),
                      "alpha_abs_diff": round(float(np.abs(g[..., 3] - c[..., 3]).mean()), 5), "ok": rel < MEAN_TOL}
    return {"res": PARITY_RES, "spp": PARITY_SPP, "views": PARITY_VIEWS, "seconds": round(time.perf_counter() - t, 1),
            "scenes": rows}


class LineReporter(Reporter):
    """Progress as plain lines (a log that survives a timeout), every tenth of a task."""

    def __init__(self, tag: str):
        self.tag, self.t0 = tag, time.perf_counter()

    @contextmanager
    def task(self, description: str, total: int):
        state = {"n": 0, "next": 0}

        def advance(n=1, **info):
            state["n"] += n
            if (state["n"] >= state["next"] and total >= 20) or state["n"] >= total:
                self.log(f"{description} {state['n']}/{total} {' '.join(f'{k}={v}' for k, v in info.items())}")
                state["next"] = state["n"] + max(1, total // 10)

        self.log(f"{description} 0/{total}")
        yield advance

    def log(self, message: str) -> None:
        print(f"[{self.tag} {time.perf_counter() - self.t0:7.1f} s] {message}", flush=True)


def fit(name: str, res: int, views: int, root: Path) -> dict:
    import torch
    from bench_suite import one

    t = time.perf_counter()
    row = one(name, "cuda", peer=False, res=res, views=views, root=root, reporter=LineReporter(name))
    row.update(res=res, views=views, wall_seconds=round(time.perf_counter() - t, 1),
               torch_peak_MB=round(torch.cuda.max_memory_allocated() / 2**20),
               gpu=torch.cuda.get_device_name(0))
    return row


PROGRESS = re.compile(r"^\[(\w+)\] \[\w+ +([\d.]+) s\] (geometry|material) (\d+)/(\d+)(?: .*level=(\d+))?")


def progress(log: Path) -> dict[str, list[tuple[float, str, int, int, int]]]:
    """Per object, the LineReporter lines of ``fits.log``: (seconds, stage, step, total, level)."""
    out: dict[str, list] = {}
    for line in log.read_text().splitlines():
        m = PROGRESS.match(line)
        if m:
            name, t, stage, step, total, level = m.groups()
            out.setdefault(name, []).append((float(t), stage, int(step), int(total), int(level or 0)))
    return out


def progress_table(log: Path) -> list[str]:
    """Where each fit was when the run ended, and seconds per step of each stage level."""
    lines = ["| object | geometry steps (s) | geometry s/step by level | material steps reached (s) | "
             "material s/step by level |", "|---|---|---|---|---|"]
    for name, rows in progress(log).items():
        cells = []
        for stage in ("geometry", "material"):
            r = [x for x in rows if x[1] == stage]
            if not r:
                cells += ["not reached", ""]
                continue
            rate = {}
            for a, b in zip(r, r[1:], strict=False):
                if b[2] > a[2]:
                    rate.setdefault(b[4], []).append((b[0] - a[0]) / (b[2] - a[2]))
            cells += [f"{r[-1][2]}/{r[-1][3]} ({r[-1][0] - r[0][0]:.0f} s)",
                      ", ".join(f"L{k} {np.median(v):.3f}" for k, v in sorted(rate.items()))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def report(files: list[Path], out: Path, log: Path | None = None) -> None:
    rows = [json.loads(Path(f).read_text()) for f in files]
    par = [r for r in rows if "scenes" in r]
    fits = [r for r in rows if "object" in r]
    lines = ["# The CUDA path on a GPU", "",
             "Written by `bench/bench_gpu.py report` from the JSON the GPU machine returned (see the module "
             "docstring for the commands; `bench/bench_gpu.sh` is the device call). Figures are one run each; "
             "the raw files of the run are in `results/gpu_run/`.", ""]
    for p in par:
        lines += [f"## Mitsuba `cuda_ad_rgb` vs `llvm_ad_rgb` ({p['res']}², {p['spp']} spp, {p['views']} test views "
                  "per scene, GT assets)", "",
                  "| scene | mean radiance, relative difference | PSNR CUDA vs CPU | alpha mean abs diff | within 1 % |",
                  "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['mean_rel_diff']:.4f} | {v['psnr_db']:.2f} dB | {v['alpha_abs_diff']:.4f} | "
                  f"{'yes' if v['ok'] else '**no**'} |" for k, v in p["scenes"].items()]
        lines.append("")
    if fits:
        lines += [f"## `quality` preset, full `relight fit` on {fits[0].get('gpu', 'the GPU')}", "",
                  "| object | res | views | albedo PSNR | relight PSNR (min envmap) | normal MAE | roughness MAE | "
                  "geometry | unwrap | material | eval | fit total | synth |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in fits:
            m = r["metrics"]
            rel = m.get("relight_psnr") or {}
            lines.append(
                f"| {r['object']} | {r['res']}² | {r['views']} | {m['albedo_psnr']:.2f} dB | "
                f"{m['relight_psnr_mean']:.2f} dB ({min(rel.values()):.2f}) | {m['normal_mae']:.2f}° | "
                f"{m['roughness_mae']:.3f} | {r['geometry_seconds']:.0f} s | {r['unwrap_seconds']:.0f} s | "
                f"{r['material_seconds']:.0f} s | {r['eval_seconds']:.0f} s | {r['fit_seconds'] / 60:.1f} min | "
                f"{r['synth_seconds']:.0f} s |")
        lines.append("")
    if log is not None:
        lines += ["## Progress of the fits (from the run's log)", "",
                  "Where each fit was when the run ended; a fit without a row in the table above did not "
                  "finish (stopped at the run's deadline) and has no quality figures.", "",
                  *progress_table(log), ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("ref")
    r.add_argument("out", type=Path)
    p = sub.add_parser("parity")
    p.add_argument("ref", type=Path)
    p.add_argument("out", type=Path)
    f = sub.add_parser("fit")
    f.add_argument("name")
    f.add_argument("--res", type=int, default=512)
    f.add_argument("--views", type=int, default=64)
    f.add_argument("--root", type=Path, default=Path("/tmp/relight_gpu"))
    f.add_argument("--out", type=Path, required=True)
    w = sub.add_parser("report")
    w.add_argument("files", type=Path, nargs="+")
    w.add_argument("--out", type=Path, default=ROOT / "results/gpu")
    w.add_argument("--log", type=Path, default=None, help="the run's fits.log (progress of each fit)")
    a = ap.parse_args()
    if a.cmd == "ref":
        a.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(a.out, **renders("cpu"))
    elif a.cmd == "parity":
        res = parity(a.ref)
        a.out.write_text(json.dumps(res, indent=2))
        print(json.dumps(res, indent=2))
    elif a.cmd == "fit":
        a.out.write_text(json.dumps(fit(a.name, a.res, a.views, a.root), indent=2))
    else:
        report(a.files, a.out, a.log)


if __name__ == "__main__":
    main()
