"""Reliability, second pass: signals leave no temporary output, checkpoints belong to their
inputs, every config number is finite, outputs follow the umask, and a stale lock is taken over."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relight.geometry.config import GeometryConfig
from relight.material.config import MaterialConfig
from relight.runtime.config import from_dict
from relight.runtime.errors import RelightError

ROOT = Path(__file__).resolve().parent.parent


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_sigterm_during_render_removes_everything(tiny_capture, tmp_path):
    """A real process, a real SIGTERM while it renders: exit 130, one line, nothing left behind
    (no output, no temporary folder, no lock)."""
    out = tmp_path / "r"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "render", str(tiny_capture / "gt"), "-o", str(out),
                             "--orbit", "200", "--res", "64", "--spp", "64", "-q", "--device", "cpu"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".r.lock"
    deadline = time.time() + 120
    while not lock.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert lock.exists(), proc.communicate()
    time.sleep(1.0)  # inside the renders
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted"), err
    assert _leftovers(tmp_path, set()) == [], list(tmp_path.iterdir())


def test_sigterm_during_export_removes_everything(tiny_capture, tmp_path, monkeypatch, capsys):
    """SIGTERM while the GLB is being built: the handler stops the export like Ctrl-C and its
    temporary folder goes with it."""
    import relight.export.formats as formats
    from cli.main import main

    real = formats.to_trimesh

    def signalled(asset):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)  # the handler raises in here
        return real(asset)

    monkeypatch.setattr(formats, "to_trimesh", signalled)
    with pytest.raises(SystemExit) as e:
        main(["export", str(tiny_capture / "gt"), "-o", str(tmp_path / "spot.glb")])
    assert e.value.code == 130, capsys.readouterr().err
    assert _leftovers(tmp_path, set()) == []


def test_resume_refuses_a_checkpoint_of_other_inputs(tiny_capture, tmp_path):
    """Checkpoints record what they were made from; --resume with another capture, mesh or load
    option is refused and the message says what differs."""
    from relight.commands.common import load_splits
    from relight.geometry.config import load_config
    from relight.geometry.fit import fit_geometry
    from relight.geometry.raster import make_raster
    from relight.runtime.fingerprint import folder_fingerprint, run_fingerprint

    train = load_splits(tiny_capture).train
    cfg = load_config("fast", iterations=4, hull_res=32, levels=1, level_split=[1.0], image_res=32, checkpoint_every=1)
    fp = run_fingerprint(capture=folder_fingerprint(tiny_capture), downscale=1)
    ck = tmp_path / "ck"
    fit_geometry(train, cfg, make_raster("cpu"), checkpoint_dir=ck, stop_at=2, inputs=fp)
    fit_geometry(train, cfg, make_raster("cpu"), checkpoint_dir=ck, resume=True, inputs=fp)  # same inputs: fine
    other = tmp_path / "other"
    shutil.copytree(tiny_capture, other)
    (other / "train" / "r_000.png").write_bytes((other / "train" / "r_001.png").read_bytes())
    with pytest.raises(RelightError, match=r"other inputs \(capture differ\)"):
        fit_geometry(train, cfg, make_raster("cpu"), checkpoint_dir=ck, resume=True,
                     inputs=run_fingerprint(capture=folder_fingerprint(other), downscale=1))
    with pytest.raises(RelightError, match=r"downscale differ"):
        fit_geometry(train, cfg, make_raster("cpu"), checkpoint_dir=ck, resume=True, inputs={**fp, "downscale": 2})


def test_material_resume_refuses_another_mesh(tiny_capture, tmp_path, cpu_backend):
    from relight.commands.common import load_splits
    from relight.data.asset import load_asset
    from relight.material.config import load_config
    from relight.material.fit import fit_material
    from relight.runtime.fingerprint import run_fingerprint

    train = load_splits(tiny_capture).train
    mesh = load_asset(tiny_capture / "gt").mesh
    cfg = load_config("fast", iterations=2, spp=1, tex_res=16, env_width=16, levels=1, level_split=[1.0],
                      refine_at=[], checkpoint_every=1, threads=1)
    ck = tmp_path / "ck"
    fit_material(train, mesh, cfg, cpu_backend, checkpoint_dir=ck, stop_at=1,
                 inputs=run_fingerprint(capture="a", mesh="m1"))
    with pytest.raises(RelightError, match=r"mesh differ"):
        fit_material(train, mesh, cfg, cpu_backend, checkpoint_dir=ck, resume=True,
                     inputs=run_fingerprint(capture="a", mesh="m2"))


def _float_fields(cls) -> list[str]:
    hints = typing.get_type_hints(cls)
    return [f.name for f in dataclasses.fields(cls) if hints[f.name] is float]


NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
ANY_FLOAT = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**12, 10**12))


@pytest.mark.parametrize("cls", [GeometryConfig, MaterialConfig])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_config_number_is_checked(cls, data):
    """Any number in any float field: a config or the one-line error; never NaN/Inf inside, never
    another exception."""
    field = data.draw(st.sampled_from(_float_fields(cls)))
    with pytest.raises(RelightError, match="finite"):
        from_dict(cls, {field: data.draw(NON_FINITE)})
    value = data.draw(ANY_FLOAT)
    try:
        cfg = from_dict(cls, {field: value})
    except RelightError as e:
        assert "\n" not in e.one_line()
    else:
        assert math.isfinite(getattr(cfg, field))


def test_outputs_follow_the_umask(tiny_capture, tmp_path, cpu_backend):
    from relight.commands import render

    old = os.umask(0o022)
    try:
        render.run(tiny_capture / "gt", tmp_path / "r", cpu_backend, orbit=1, res=16, spp=1)
    finally:
        os.umask(old)
    assert (tmp_path / "r").stat().st_mode & 0o777 == 0o755


def test_a_stale_lock_is_taken_over(tiny_capture, tmp_path, cpu_backend):
    from relight.commands import render

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".r.lock").write_text(f"{dead.pid}\n")  # its process is gone
    render.run(tiny_capture / "gt", tmp_path / "r", cpu_backend, orbit=1, res=16, spp=1)
    assert (tmp_path / "r" / "view_000.exr").is_file() and not (tmp_path / ".r.lock").exists()


def test_a_lock_goes_with_its_process(tmp_path):
    """The output lock is the kernel's: while a process holds it another run is refused with its
    PID (even in the instant before the PID is written), and once that process is killed the
    output is free at once, with no stale file to judge."""
    import fcntl

    from relight.runtime.paths import output_lock

    out = tmp_path / "r"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from relight.runtime.paths import output_lock\n"
                               f"with output_lock({str(out)!r}):\n    print('held', flush=True); time.sleep(60)"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RelightError, match=f"PID {holder.pid}"), output_lock(out):
            pass
        holder.kill()
        holder.wait()
        with output_lock(out):  # SIGKILL left the file; the kernel dropped the lock
            assert (tmp_path / ".r.lock").read_text().strip() == str(os.getpid())
        assert not (tmp_path / ".r.lock").exists()
    finally:
        holder.kill()
        holder.stdout.close()
    fd = os.open(tmp_path / ".r.lock", os.O_CREAT | os.O_RDWR, 0o644)  # locked, PID not written yet
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(RelightError, match="another relight run"), output_lock(out):
            pass
    finally:
        os.close(fd)


def test_an_output_in_new_folders_is_locked_too(tmp_path):
    """An output whose folders do not exist yet is locked like any other (the folders are made
    for the lock file), and a run that fails leaves none of those folders behind."""
    from relight.runtime.paths import output_lock

    out = tmp_path / "a" / "b" / "r"
    with output_lock(out):
        assert (tmp_path / "a" / "b" / ".r.lock").is_file()
        with pytest.raises(RelightError, match="another relight run"), output_lock(out):
            pass
    assert (tmp_path / "a" / "b").is_dir() and not (tmp_path / "a" / "b" / ".r.lock").exists()
    shutil.rmtree(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt), output_lock(out):
        raise KeyboardInterrupt
    assert not (tmp_path / "a").exists()
