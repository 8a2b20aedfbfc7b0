"""Checkpoints and memory guard: no unsafe loading, damaged checkpoints, the memory estimate."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from relight.runtime import resources as rs
from relight.runtime.errors import RelightError
from relight.runtime.paths import read_checkpoint, write_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def test_no_unsafe_loading_in_the_code():
    """No pickle, no torch.load without weights_only, np.load only with allow_pickle=False."""
    for p in [*ROOT.glob("relight/**/*.py"), *ROOT.glob("cli/*.py"), *ROOT.glob("bench/*.py")]:
        code = "\n".join(line.split("#")[0] for line in p.read_text().splitlines())
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|dill|joblib)\b", code, re.M), p
        for call in re.findall(r"np\.load\([^)]*\)", code):
            assert "allow_pickle=False" in call, (p, call)
        for call in re.findall(r"torch\.load\([^)]*\)", code):
            assert "weights_only=True" in call, (p, call)


def test_checkpoint_roundtrip_and_refusals(tmp_path):
    write_checkpoint(tmp_path, "ck", {"a": np.arange(5, dtype=np.float32)}, {"step": 7, "losses": [1.0, 0.5]})
    arrays, meta = read_checkpoint(tmp_path, "ck")
    assert meta == {"step": 7, "losses": [1.0, 0.5]} and arrays["a"].tolist() == [0, 1, 2, 3, 4]
    assert not list(tmp_path.glob("*.tmp*"))
    # an object array (what a pickle payload needs) is refused, not unpickled
    np.savez(tmp_path / "evil.npz", __meta__=np.frombuffer(b"{}", np.uint8), x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(RelightError, match="damaged"):
        read_checkpoint(tmp_path, "evil")
    b = (tmp_path / "ck.npz").read_bytes()
    (tmp_path / "ck.npz").write_bytes(b[: len(b) // 2])  # torn file (cannot happen via rename, but disks fail)
    with pytest.raises(RelightError, match="damaged.*without --resume|without --resume"):
        read_checkpoint(tmp_path, "ck")
    with pytest.raises(RelightError, match="no checkpoint"):
        read_checkpoint(tmp_path / "none", "ck")


@pytest.mark.parametrize("text,value", [("8G", 8 * 2**30), ("512M", 512 * 2**20), ("1.5GiB", int(1.5 * 2**30)),
                                        ("2000", 2000), ("16 gb", 16 * 2**30)])
def test_parse_size(text, value):
    assert rs.parse_size(text) == value


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "8X"])
def test_parse_size_refuses(text):
    with pytest.raises(RelightError, match="memory size"):
        rs.parse_size(text)


def test_estimate_grows_with_what_costs_memory():
    small = rs.material_work_bytes(128, 128, 8, 1, 256, 64)
    assert rs.material_work_bytes(256, 256, 8, 1, 256, 64) > 3 * (small - rs.MATERIAL_FIXED)
    assert rs.material_work_bytes(128, 128, 8, 2, 256, 64) > small
    # LLVM: spp does not change the measured work; CUDA: the wavefront holds every sample
    assert rs.material_work_bytes(128, 128, 64, 1, 256, 64) == small
    assert rs.material_work_bytes(128, 128, 64, 1, 256, 64, "cuda") > 2 * rs.material_work_bytes(128, 128, 1, 1, 256, 64, "cuda")
    assert rs.packed_bytes(100, 800, 800, eight_bit=True) == 100 * 800 * 800 * 4
    assert rs.packed_bytes(100, 800, 800, eight_bit=False) == 100 * 800 * 800 * 8


def test_render_passes_split_samples_only_when_needed():
    assert rs.render_passes(512, 512, 256, "cpu", 2**30) == 1
    assert rs.render_passes(512, 512, 256, "cuda", None) == 1
    n = rs.render_passes(1024, 1024, 1024, "cuda", 8 * 2**30)
    assert 1 < n <= 1024
    budget = 8 * 2**30
    per_pass = rs.render_work_bytes(1024, 1024, -(-1024 // n), "cuda") + rs.BASE
    assert per_pass <= budget  # each pass fits


def test_check_memory_refuses_with_parts(tmp_path):
    est = rs.MemoryEstimate({"base": rs.BASE, "images": 3 * 2**30})
    with pytest.raises(RelightError, match=r"needs an estimated 3\.9\d GiB .*images 3\.00.*--max-memory"):
        rs.check_memory(est, "2G", "relight fit", "use --downscale 2")
    rs.check_memory(est, "8G", "relight fit", "")  # fits: no error


def test_render_in_sample_passes_is_unbiased(cpu_backend, tiny_capture):
    """Two sample passes average to the same image as one render (up to Monte Carlo noise)."""
    from relight.data.asset import load_asset
    from relight.data.camera import ring_cameras
    from relight.render.mitsuba import build_scene, render_views

    asset = load_asset(tiny_capture / "gt")
    cams = ring_cameras(asset.mesh, 1, 24)
    scene = build_scene(cpu_backend, asset, 3)
    one = render_views(cpu_backend, scene, cams, 1024)[0]  # a sun in the envmap: enough samples for 2 %
    two = render_views(cpu_backend, scene, cams, 1024, passes=2)[0]
    assert abs(one[..., :3].mean() - two[..., :3].mean()) < 0.02 * one[..., :3].mean()
    assert np.abs(one - two).max() > 0  # different samples were drawn
