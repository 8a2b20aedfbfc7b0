"""Benchmark ``relight synth``: wall time per phase and peak memory, written to results/.

Usage: .venv/bin/python bench/bench_synth.py [--scenes spot knot] [--device auto] [--res 256]
       [--views 64] [--spp 64] [--out results/synth]
Renders into a temporary folder (deleted afterwards) and writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from relight.render.scene import load_scene
from relight.render.synth import synthesize
from relight.runtime.backend import select_backend


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenes", nargs="+", default=["spot", "knot"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--views", type=int, default=64)
    ap.add_argument("--spp", type=int, default=64)
    ap.add_argument("--out", default="results/synth")
    a = ap.parse_args()
    backend = select_backend(a.device)
    device = backend.describe()
    if backend.device == "cuda":
        import torch

        device += f", {torch.cuda.get_device_name()}"
    rows = []
    for name in a.scenes:
        spec = load_scene(name).with_overrides(res=a.res, views=a.views, spp=a.spp)
        tmp = Path(tempfile.mkdtemp())
        t = time.perf_counter()
        r = synthesize(spec, tmp / name, backend)
        wall = time.perf_counter() - t
        size = sum(f.stat().st_size for f in (tmp / name).rglob("*") if f.is_file())
        shutil.rmtree(tmp)
        c = spec.cameras
        n_img = r.train_views + r.test_views * (1 + len(r.relit))
        rows.append({"scene": name, "res": c.res, "train_views": r.train_views, "test_views": r.test_views,
                     "relit_sets": len(r.relit), "spp": c.spp, "max_depth": c.max_depth,
                     "wall_s": round(wall, 2), "phases_s": {k: round(v, 2) for k, v in r.seconds.items()},
                     "s_per_view_train": round(r.seconds["render_train"] / r.train_views, 3),
                     "images_rendered": n_img, "output_MB": round(size / 2**20, 1)})
        print(json.dumps(rows[-1]))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    meta = {"device": device, "cpu": cpu_name(), "cores": os.cpu_count(), "peak_rss_MB": round(peak),
            "date": time.strftime("%Y-%m-%d"), "command": "bench/bench_synth.py " + " ".join(
                f"--{k.replace('_', '-')} {' '.join(v) if isinstance(v, list) else v}" for k, v in vars(a).items())}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [f"# relight synth benchmark ({meta['date']})", "",
             f"Device: {device}; CPU: {meta['cpu']} ({meta['cores']} cores); peak RSS {meta['peak_rss_MB']} MB.",
             f"Reproduce: `.venv/bin/python {meta['command']}`", "",
             "| scene | res | train views | test views | relit sets | spp | images | wall (s) | train s/view | phases (s) | output MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ph = ", ".join(f"{k} {v}" for k, v in r["phases_s"].items() if k != "total")
        lines.append(f"| {r['scene']} | {r['res']}² | {r['train_views']} | {r['test_views']} | {r['relit_sets']} | "
                     f"{r['spp']} | {r['images_rendered']} | {r['wall_s']} | {r['s_per_view_train']} | {ph} | {r['output_MB']} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
