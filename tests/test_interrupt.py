"""`relight fit` killed mid-stage resumes with --resume and reaches the same result.

Real processes and real signals: SIGINT during the geometry stage (graceful: checkpoint at the
step boundary, one line naming the checkpoint and the resume command, exit 130) and SIGKILL during
the material stage (no warning: the last periodic checkpoint is the resume point). Single-threaded
material stage, so the uninterrupted and the resumed runs can be compared tightly.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
GEOMETRY = "iterations = 60\nhull_res = 32\nlevels = 1\nlevel_split = [1.0]\nimage_res = 32\nbatch_views = 2\n" \
           "checkpoint_every = 5\n"
MATERIAL = "iterations = 60\nspp = 4\ntex_res = 32\nenv_width = 16\nlevels = 1\nlevel_split = [1.0]\n" \
           "checkpoint_every = 5\nthreads = 1\n"


def fit_argv(capture: Path, out: Path, cfg_dir: Path) -> list[str]:
    return ["fit", str(capture), "-o", str(out), "--geometry-config", str(cfg_dir / "g.toml"),
            "--material-config", str(cfg_dir / "m.toml"), "-q", "--device", "cpu"]


def start(argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "cli.main", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    t = time.time()
    while not path.is_file():
        assert proc.poll() is None, f"finished before {path.name} appeared: {proc.communicate()}"
        assert time.time() - t < timeout, f"timed out waiting for {path}"
        time.sleep(0.01)


def metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def runs(tiny_capture, tmp_path_factory):
    d = tmp_path_factory.mktemp("interrupt")
    (d / "g.toml").write_text(GEOMETRY)
    (d / "m.toml").write_text(MATERIAL)
    ref = d / "ref"
    p = start(fit_argv(tiny_capture, ref, d))
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    return d, ref


def test_sigint_in_geometry_checkpoints_says_where_and_resumes(runs, tiny_capture):
    d, ref = runs
    out = d / "sigint"
    argv = fit_argv(tiny_capture, out, d)
    p = start(argv)
    wait_for(d / ".sigint.ckpt/geometry/geom.npz", p)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("interrupted: geometry stage stopped at step ") and "/60" in line, line
    step = int(line.split("step ")[1].split("/")[0])
    assert 0 < step < 60, line
    assert str(d / ".sigint.ckpt") in line and line.endswith("--resume"), line
    assert not out.exists()
    resume = shlex.split(line.split("continue with: ")[1])
    assert resume[0] == "relight" and resume[1:] == argv + ["--resume"]
    p = start(resume[1:])
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    a, b = metrics(ref), metrics(out)
    assert abs(a["relight_psnr_mean"] - b["relight_psnr_mean"]) < 0.05, (a, b)
    assert abs(a["albedo_psnr"] - b["albedo_psnr"]) < 0.05, (a, b)
    assert not (d / ".sigint.ckpt").exists()  # cleaned up after success


def test_sigkill_in_material_resumes_from_last_checkpoint(runs, tiny_capture):
    d, ref = runs
    out = d / "sigkill"
    argv = fit_argv(tiny_capture, out, d)
    p = start(argv)
    ck = d / ".sigkill.ckpt/material/ckpt.npz"
    wait_for(ck, p)
    p.kill()
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    assert not out.exists() and not list(d.glob(".sigkill.tmp-*"))
    from relight.runtime.paths import read_checkpoint

    _, meta = read_checkpoint(ck.parent, "ckpt")  # a kill never leaves a torn checkpoint
    assert 0 < meta["step"] < 60
    p = start(argv + ["--resume"])
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    a, b = metrics(ref), metrics(out)
    assert abs(a["relight_psnr_mean"] - b["relight_psnr_mean"]) < 0.05, (a, b)
    assert abs(a["albedo_psnr"] - b["albedo_psnr"]) < 0.05, (a, b)
    ra = json.loads((ref / "asset.json").read_text())["info"]["geometry"]["faces"]
    rb = json.loads((out / "asset.json").read_text())["info"]["geometry"]["faces"]
    assert ra == rb
    from relight.data.images import read_exr

    np.testing.assert_allclose(read_exr(out / "albedo.exr"), read_exr(ref / "albedo.exr"), atol=2e-3)
