"""Fuzzing the readers of untrusted files (hypothesis, bounded: a fixed number of examples each).

Property: whatever the bytes or JSON, a reader either returns a well-formed object or raises a
one-line :class:`RelightError` — never another exception, never a hang.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relight.data.asset import Asset, load_asset, save_asset
from relight.data.capture_io import load_capture
from relight.data.images import read_envmap, read_linear, write_exr, write_png
from relight.data.mesh import Mesh, load_mesh
from relight.runtime.errors import RelightError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20)

frame_keys = st.sampled_from(["file_path", "transform_matrix", "fl_x", "fl_y", "cx", "cy", "w", "h",
                              "camera_angle_x", "mask_path", "k1"])
frames = st.lists(st.dictionaries(frame_keys, json_values | st.just("./train/r_0")
                                  | st.just([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 3], [0, 0, 0, 1]]), max_size=6),
                  max_size=4)
extras = st.fixed_dictionaries({}, optional={
    "format": json_values, "aovs": st.dictionaries(st.sampled_from(["albedo", "roughness", "normals"]),
                                                   json_values | st.just("train/{name}.exr"), max_size=3),
    "relit": st.dictionaries(st.text(max_size=5), json_values | st.fixed_dictionaries(
        {"images": st.just("train/{name}.png") | json_values, "envmap": json_values}), max_size=2)})
top = st.dictionaries(st.sampled_from(["camera_angle_x", "fl_x", "w", "h", "frames", "relight", "cx"]),
                      json_values | frames | st.floats(0.1, 2.0) | extras, max_size=5)


def load_or_none(reader, *args):
    """``reader(*args)``, or None when it refused the input with a one-line RelightError."""
    try:
        return reader(*args)
    except RelightError as e:
        assert "\n" not in e.one_line()
        return None


def _capture_dir() -> Path:
    d = Path(tempfile.mkdtemp())
    (d / "train").mkdir()
    write_png(d / "train/r_0.png", np.ones((8, 8, 4)))
    (d / "transforms_test.json").write_text("{}")  # a split capture: the 'relight' extras are read
    return d


def _check_capture(meta) -> None:
    d = _capture_dir()
    try:
        (d / "transforms_train.json").write_text(json.dumps(meta))
        cap = load_or_none(load_capture, d)
        assert cap is None or len(cap) >= 1 and np.all(np.isfinite(cap.images)) and cap.images.ndim == 4
    finally:
        shutil.rmtree(d)


@FUZZ
@given(meta=top)
def test_capture_reader_structured(meta):
    _check_capture(meta)


@FUZZ
@given(meta=json_values)
def test_capture_reader_any_json(meta):
    _check_capture(meta)


@FUZZ
@given(data=st.binary(max_size=400))
def test_capture_reader_any_bytes(data):
    d = _capture_dir()
    try:
        (d / "transforms_train.json").write_bytes(data)
        with pytest.raises(RelightError):
            load_capture(d)
    finally:
        shutil.rmtree(d)


@pytest.fixture(scope="module")
def asset_dir(tmp_path_factory):
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], np.int32)
    a = Asset(Mesh(v, f, v[:, :2]), np.full((4, 4, 3), .5, np.float32), np.full((4, 4), .5, np.float32),
              np.ones((4, 8, 3), np.float32))
    d = tmp_path_factory.mktemp("asset")
    save_asset(a, d)
    return d


@FUZZ
@given(patch=st.dictionaries(st.sampled_from(["format", "format_version", "files", "info", "units"]),
                             json_values, max_size=3),
       file_patch=st.dictionaries(st.sampled_from(["mesh", "albedo", "roughness", "envmap", "metallic"]),
                                  json_values | st.fixed_dictionaries({"path": st.text(max_size=20)}), max_size=2))
def test_asset_reader(asset_dir, patch, file_patch):
    d = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(asset_dir, d, dirs_exist_ok=True)
        m = json.loads((d / "asset.json").read_text())
        m.update(patch)
        if isinstance(m.get("files"), dict):
            m["files"].update(file_patch)
        (d / "asset.json").write_text(json.dumps(m))
        a = load_or_none(load_asset, d)
        assert a is None or a.albedo.shape[-1] == 3 and np.all(np.isfinite(a.envmap))
    finally:
        shutil.rmtree(d)


@FUZZ
@given(data=st.binary(max_size=2000), ext=st.sampled_from([".png", ".exr", ".hdr", ".jpg"]),
       keep=st.floats(0.0, 1.0))
def test_image_readers_on_corrupt_bytes(data, ext, keep, tmp_path):
    """Random bytes, or a valid file cut at a random point, in every image format we read."""
    p = tmp_path / f"img{ext}"
    if ext in (".png", ".jpg"):
        write_png(p.with_suffix(".png"), np.ones((4, 8, 3)) * 0.5)
        good = p.with_suffix(".png").read_bytes()
    elif ext == ".exr":
        write_exr(p, np.ones((4, 8, 3), np.float32))
        good = p.read_bytes()
    else:
        good = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 4 +X 8\n" + bytes([128, 128, 128, 129]) * 32
    p.write_bytes(data if len(data) % 2 else good[: int(len(good) * keep)] + data[:8])
    for reader in (read_linear, read_envmap):
        img = load_or_none(reader, p)
        assert img is None or img.ndim == 3 and np.all(np.isfinite(img))


@FUZZ
@given(text=st.text(alphabet="vf0123456789 .-/\nnaie", max_size=300))
def test_mesh_reader_on_random_obj(text, tmp_path):
    p = tmp_path / "m.obj"
    p.write_text(text)
    m = load_or_none(load_mesh, p)
    assert m is None or len(m.faces) > 0 and np.all(np.isfinite(m.vertices)) and m.faces.max() < len(m.vertices)


@FUZZ
@given(extra=extras | json_values)
def test_capture_reader_relight_extras(extra):
    """A valid capture whose ``relight`` block (GT AOVs, relit views) is fuzzed."""
    frame = {"file_path": "./train/r_0", "transform_matrix": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 3], [0, 0, 0, 1]]}
    _check_capture({"camera_angle_x": 0.7, "frames": [frame], "relight": extra})
