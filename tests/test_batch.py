"""``relight batch``: the manifest is validated before anything runs; on a local Ray instance two
workers reconstruct two good captures (one of them after its worker is SIGKILLed mid-fit: Ray
retries, the fit resumes from its checkpoint) while a broken one is reported; a rerun skips the
finished ones; Ctrl-C stops cleanly. Ray starts only in the subprocesses of this module."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relight.commands.batching.manifest import load_manifest
from relight.runtime.errors import RelightError

ROOT = Path(__file__).resolve().parent.parent
FAST = 'geometry = { iterations = 20, checkpoint_every = 5 }\nmaterial = { iterations = 10, checkpoint_every = 2, threads = 1 }\n'


def _tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def captures(tiny_capture, tmp_path_factory) -> Path:
    """caps/a, caps/b (copies of the tiny capture) and caps/broken (a transforms.json without frames)."""
    root = tmp_path_factory.mktemp("batch")
    for name in ("a", "b"):
        shutil.copytree(tiny_capture, root / "caps" / name)
    (root / "caps" / "broken").mkdir()
    (root / "caps" / "broken" / "transforms.json").write_text('{"frames": 3}')
    return root


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _default_sigint() -> None:
    """A shell's background job (``cmd &``) starts with SIGINT ignored and Python then keeps it
    ignored; the batch gets the default, as in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _batch(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", "batch", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=_default_sigint, **kw)


def _status(out: Path, name: str) -> dict:
    try:
        return json.loads((out / ".batch" / name / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def _wait_for_material_step(out: Path, name: str, step: int, proc: subprocess.Popen, timeout: float = 300) -> dict:
    """The task's status once its material stage has a checkpoint of ``step`` steps or more on disk
    (the checkpoint's own step: the status can run a step ahead of the checkpoint, and a kill in
    between resumed at step - 1 on a loaded machine). ``ckpt.json`` is written after the atomic
    ``ckpt.npz``, so the npz holds at least the step it names. The status's task is not required to
    be still ``material``: the checkpoint stays until the whole fit is written, and on a loaded
    machine this poll once missed the material stage's window (the worker was already refining)."""
    ckpt = out / name / ".asset.ckpt" / "material" / "ckpt.json"
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        st = _status(out, name)
        try:
            saved = json.loads(ckpt.read_text()).get("step", 0)
        except (OSError, ValueError):
            saved = 0
        if st.get("pid") and saved >= step:
            return st
        time.sleep(0.05)
    raise AssertionError(f"never reached material step {step}: {_status(out, name)} {proc.communicate()}")


# --- the manifest: errors before anything runs -------------------------------------------------------


def test_manifest_defaults_merge_per_capture(captures):
    m = _write(captures / "m1.toml", f'[defaults]\n{FAST}export = ["glb"]\n'
               '[[captures]]\nglob = "caps/[ab]"\n'
               '[[captures]]\npath = "caps/a"\nname = "a_slow"\nmaterial = { iterations = 30 }\n')
    items = load_manifest(m)
    assert [it.name for it in items] == ["a", "b", "a_slow"]
    assert items[0].material.iterations == 10 and items[2].material.iterations == 30
    assert items[2].material.checkpoint_every == 2  # the table is merged key by key, not replaced
    assert items[0].settings.export == ["glb"] and items[0].path == (captures / "caps" / "a").resolve()
    assert load_manifest(m, preset="quality")[0].settings.preset == "quality"


@pytest.mark.parametrize("body, words", [
    ('[defaults]\nstages = ["fit", "paint"]\n[[captures]]\npath = "caps/a"\n', "stages"),
    ('[defaults]\ngeometry = { iterashuns = 3 }\n[[captures]]\npath = "caps/a"\n', "iterashuns"),
    ('[defaults]\nspeed = 3\n[[captures]]\npath = "caps/a"\n', "unknown key 'speed'"),
    ('[[captures]]\nglob = "caps/zz*"\n', "matches no folder"),
    ('[[captures]]\npath = "caps/nope"\n', "folder not found"),
    ('[[captures]]\npath = "caps/a"\n[[captures]]\nglob = "caps/[ab]"\n', "same folder 'a'"),
    ('[[captures]]\npath = "caps/a"\nrender = { envmap = "no.exr" }\n', "render.envmap not found"),
    ('[defaults]\nstages = ["render"]\n[[captures]]\npath = "caps/a"\n', "need the fit stage"),
    ('[defaults]\n', "no captures listed"),
])
def test_bad_manifest_is_one_line(captures, body, words):
    with pytest.raises(RelightError) as e:
        load_manifest(_write(captures / "bad.toml", body))
    assert words in str(e.value) and "bad.toml" in str(e.value) and "\n" not in str(e.value)


def test_bad_manifest_exits_2_and_writes_nothing(captures):
    bad = _write(captures / "bad2.toml", '[[captures]]\npath = "caps/nope"\n')
    out = captures / "out_bad"
    p = subprocess.run([sys.executable, "-m", "cli.main", "batch", str(bad), "-o", str(out)], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "folder not found" in p.stderr, p.stderr
    assert not out.exists()


# --- a real batch on a local Ray instance --------------------------------------------------------------


def test_batch_two_workers_survives_a_killed_worker_and_a_broken_capture(captures, cpu_backend):
    """Two workers, three captures: ``b``'s worker is SIGKILLed mid-material, Ray retries the task
    and it resumes from its checkpoint; ``broken`` fails with its one-line error; exit 1 (the rule:
    0 only when every capture is done). ``a`` has the metrics of a plain ``relight fit``; a rerun
    skips ``a`` and ``b`` without starting them again; the inputs are untouched."""
    from relight.commands import fit

    m = _write(captures / "m.toml", f'[defaults]\nstages = ["fit", "eval", "render", "export"]\n{FAST}'
               'render = { orbit = 2, res = 16, spp = 2 }\n'
               '[[captures]]\npath = "caps/a"\n[[captures]]\npath = "caps/broken"\n'
               '[[captures]]\npath = "caps/b"\nname = "b_killed"\n'
               'material = { iterations = 40, checkpoint_every = 1 }\n')
    before = _tree_hash(captures / "caps")
    out = captures / "out"
    proc = _batch(str(m), "-o", str(out), "--workers", "2", "--retries", "2", "-q")
    st = _wait_for_material_step(out, "b_killed", 3, proc)
    os.kill(st["pid"], signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    report = json.loads((out / "batch.json").read_text())
    recs = {r["name"]: r for r in report["captures"]}
    assert report["counts"]["done"] == 2 and report["counts"]["failed"] == 1
    assert recs["broken"]["status"] == "failed" and "transforms.json" in recs["broken"]["error"]
    assert "\n" not in recs["broken"]["error"]
    killed = recs["b_killed"]
    assert killed["status"] == "done" and killed["attempts"] == 2, killed
    assert killed["resumed"].get("material", 0) >= 3, killed  # continued from its checkpoint, not from 0
    for name in ("a", "b_killed"):
        f = out / name
        assert (f / "done.json").is_file() and (f / "asset" / "metrics.json").is_file()
        assert (f / "export" / "glb" / f"{name}.glb").stat().st_size > 1000
        assert (f / "export" / "obj" / f"{name}.obj").is_file() and len(list((f / "render").glob("*.png"))) >= 2
        assert not (f / ".asset.ckpt").exists()
    assert "b_killed" in (out / "batch.md").read_text()
    assert _tree_hash(captures / "caps") == before

    # results equal to a sequential `relight fit` (same seed, one Dr.Jit thread on both sides: with
    # more, multi-threaded atomic gradient sums differ run to run — 0.004 dB was seen here)
    item = load_manifest(m)[0]
    seq = captures / "seq"
    fit.run(item.path, seq, item.geometry, item.material, cpu_backend)
    a = json.loads((seq / "metrics.json").read_text())
    b = json.loads((out / "a" / "asset" / "metrics.json").read_text())
    for k in ("relight_psnr_mean", "novel_view_psnr", "albedo_psnr", "mask_iou"):
        assert b[k] == pytest.approx(a[k], abs=1e-3), k

    attempts = (out / ".batch" / "a" / "attempts").read_text()
    t = time.perf_counter()
    again = _batch(str(m), "-o", str(out), "--workers", "2", "-q")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 1, err
    recs = {r["name"]: r for r in json.loads((out / "batch.json").read_text())["captures"]}
    assert [recs[n]["status"] for n in ("a", "broken", "b_killed")] == ["skipped", "failed", "skipped"]
    assert (out / ".batch" / "a" / "attempts").read_text() == attempts  # not started again
    assert time.perf_counter() - t < 60  # nothing to run: Ray is not even started


def test_ctrl_c_stops_the_batch_and_keeps_the_checkpoint(captures):
    m = _write(captures / "mc.toml", f'[defaults]\nstages = ["fit"]\n{FAST}'
               '[[captures]]\npath = "caps/a"\nmaterial = { iterations = 60, checkpoint_every = 1 }\n')
    out = captures / "out_int"
    proc = _batch(str(m), "-o", str(out), "-q")
    _wait_for_material_step(out, "a", 2, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted: unfinished captures keep their checkpoints"), err
    rec = json.loads((out / "batch.json").read_text())["captures"][0]
    assert rec["status"] == "interrupted", rec
    assert (out / "a" / ".asset.ckpt" / "material" / "ckpt.npz").is_file() and not (out / "a" / "asset").exists()
    assert not (out / "a" / "done.json").exists()


def test_cluster_yaml_passes_rays_schema():
    """The README's autoscaler example is a config Ray accepts (its own schema; a typo is refused)."""
    yaml = pytest.importorskip("yaml")
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = prepare_config(yaml.safe_load((ROOT / "scripts" / "ray_cluster.yaml").read_text()))
    validate_config(cfg)
    cfg["available_node_types"]["gpu"]["min_worker"] = 0
    with pytest.raises(BaseException, match="min_worker"):
        validate_config(cfg)


def test_ray_loads_only_when_a_batch_runs():
    """Ray's import (and its start) stays out of every other command and of --help."""
    code = ("import sys, cli.main, relight.commands.batch, relight.commands.batching.cluster; "
            "print('ray' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert p.stdout.strip() == "False", p.stderr


def test_task_reports_bad_input_as_a_record_not_a_raise(tmp_path):
    """The task function runs without Ray: a folder of photos without the poses stage ends as a
    failed record with the one-line error, and no done marker."""
    from PIL import Image

    from relight.commands.batching.task import DONE, run_capture

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (32, 32), (120, 90, 60)).save(photos / "a.jpg")
    m = _write(tmp_path / "m.toml", '[defaults]\nstages = ["fit"]\n[[captures]]\npath = "photos"\n')
    rec = run_capture(load_manifest(m)[0], tmp_path / "out")
    assert rec["status"] == "failed" and "needs the poses stage" in rec["error"] and "\n" not in rec["error"]
    assert not (tmp_path / "out" / "photos" / DONE).exists()
    assert json.loads((tmp_path / "out" / ".batch" / "photos" / "status.json").read_text())["stage"] == "failed"


def test_llff_folder_is_estimated_from_its_images(shared_data, tmp_path):
    """An LLFF dataset (poses_bounds.npy beside images/) goes through the poses stage and its
    memory is estimated from images/, where `relight poses` reads it."""
    from PIL import Image

    from relight.commands.batching.cluster import estimate_item
    from relight.commands.batching.task import needs_poses
    from relight.data.images import is_8bit
    from relight.runtime.resources import CaptureSize, estimate_fit

    head = shared_data / "datasets" / "ethiopian_head_real"
    item = load_manifest(_write(tmp_path / "m.toml", f'[[captures]]\npath = "{head}"\n'))[0]
    images = sorted((head / "images").iterdir())
    with Image.open(images[0]) as im:
        w, h = im.size
    assert needs_poses(item.path)
    size = CaptureSize(len(images), h, w, is_8bit(images[0]))
    assert size.eight_bit  # JPEG photos: packed at 4 B a pixel
    assert estimate_item(item, "cpu").parts["images"] == \
        estimate_fit(size, "cpu", item.geometry, item.material).parts["images"]
