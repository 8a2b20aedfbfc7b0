"""Bad input through the real CLI: one line on stderr naming the file and the fix, exit code 2,
and no output (not even a temporary folder) left behind.

Every case starts from a small *valid* capture / mesh / asset / envmap (``world``), breaks one
thing, and runs one ``relight`` command in-process. ``test_the_world_is_valid`` checks that the
unbroken inputs pass the same checks, so each case fails for the reason it names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from relight.data.asset import Asset, save_asset
from relight.data.camera import look_at
from relight.data.images import write_exr, write_png
from relight.data.mesh import Mesh, write_obj


def _cube() -> Mesh:
    v = np.array([[x, y, z] for x in (-.5, .5) for y in (-.5, .5) for z in (-.5, .5)], np.float32)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],
                  [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]], np.int32)
    return Mesh(v, f, uvs=(v[:, :2] + 0.5))


class World:
    """Valid inputs in ``root``: capture ``cap`` (RGBA PNG + EXR frames), ``mesh.obj``,
    asset folder ``asset``, envmap ``env.exr``, config ``ok.toml``; outputs go to ``out``."""

    def __init__(self, root: Path):
        self.root = root
        self.held: list[int] = []  # file descriptors a case keeps open (a held lock)
        self.cap = root / "cap"
        (self.cap / "train").mkdir(parents=True)
        rng = np.random.default_rng(0)
        frames = []
        for i in range(3):
            rgba = np.concatenate([rng.random((16, 16, 3)), np.ones((16, 16, 1))], -1)
            write_png(self.cap / f"train/r_{i}.png", rgba)
            frames.append({"file_path": f"./train/r_{i}",
                           "transform_matrix": look_at([3 * np.sin(i), 0.5, 3 * np.cos(i)], [0, 0, 0]).tolist()})
        self.meta = {"camera_angle_x": 0.7, "frames": frames}
        self.write_meta()
        self.mesh = root / "mesh.obj"
        write_obj(self.mesh, _cube())
        self.env = root / "env.exr"
        write_exr(self.env, np.ones((8, 16, 3), np.float32))
        self.asset = root / "asset"
        save_asset(Asset(_cube(), np.full((8, 8, 3), .5, np.float32), np.full((8, 8), .5, np.float32),
                         np.ones((8, 16, 3), np.float32)), self.asset)
        (root / "ok.toml").write_text("iterations = 3\n")
        self.out = root / "out"

    def write_meta(self, meta=None):
        (self.cap / "transforms_train.json").write_text(json.dumps(self.meta if meta is None else meta))

    def frame(self, i=0, **kv):
        m = json.loads(json.dumps(self.meta))
        m["frames"][i].update(kv)
        self.write_meta(m)


def material(w: World, *extra):
    return ["material", str(w.cap), "--mesh", str(w.mesh), "-o", str(w.out), "-q", "--no-eval", *extra]


def render(w: World, *extra):
    return ["render", str(w.asset), "-o", str(w.out), "-q", "--res", "16", "--spp", "1", "--orbit", "1", *extra]


def _truncate(p: Path, keep: float = 0.5):
    b = p.read_bytes()
    p.write_bytes(b[: int(len(b) * keep)])


def _exr_frame(w: World, values: np.ndarray):
    write_exr(w.cap / "train/r_0.exr", values)


def _mesh_text(w: World, text: str):
    w.mesh.write_text(text)


def _rgb(v=0.5):
    return np.concatenate([np.full((16, 16, 3), v, np.float32), np.ones((16, 16, 1), np.float32)], -1)


def _nan_rgba():
    a = _rgb()
    a[3, 4, 1] = np.nan
    return a


def _inf_rgba():
    a = _rgb()
    a[0, 0, 0] = np.inf
    return a


def _neg_rgba():
    a = _rgb()
    a[5:9, 5:9, :3] = -0.5
    return a


def _symlink_out(w: World):
    outside = w.root / "elsewhere.png"
    write_png(outside, np.ones((16, 16, 4)))
    os.symlink(outside, w.cap / "train/link.png")
    w.frame(0, file_path="train/link.png")


def _mixed_sizes(w: World):
    write_png(w.cap / "train/r_1.png", np.ones((20, 16, 4)))


def _no_alpha(w: World):
    for i in range(3):
        write_png(w.cap / f"train/r_{i}.png", np.ones((16, 16, 3)))


def _future_asset(w: World):
    m = json.loads((w.asset / "asset.json").read_text())
    m["format_version"] = 99
    (w.asset / "asset.json").write_text(json.dumps(m))


def _nan_texture(w: World):
    a = np.full((8, 8, 3), .5, np.float32)
    a[0, 0] = np.nan
    write_exr(w.asset / "albedo.exr", a)


def _future_capture(w: World):
    w.write_meta({**w.meta, "relight": {"format": 7}})


def _nonmanifold(w: World):
    m = _cube()
    f = np.concatenate([m.faces, [[0, 1, 4]]])  # edge 0-1 now has three faces
    write_obj(w.mesh, Mesh(m.vertices, f, m.uvs))


def _nan_vertex(w: World):
    m = _cube()
    v = m.vertices.copy()
    v[2, 1] = np.nan
    write_obj(w.mesh, Mesh(v, m.faces, m.uvs))


def _huge_mesh(w: World, monkeypatch):
    import relight.data.mesh

    monkeypatch.setattr(relight.data.mesh, "MAX_FACES", 10)  # the guard, without writing 5 M faces


def _existing_out(w: World):
    w.out.mkdir()
    (w.out / "precious.txt").write_text("keep me")


def _disk_full(w: World, monkeypatch):
    import errno

    import relight.commands.render

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(relight.commands.render, "write_exr", full)  # fails while the output is written


def _no_cuda(w: World, monkeypatch):
    import relight.runtime.backend

    monkeypatch.setattr(relight.runtime.backend, "cuda_available", lambda: False)


# -- second pass (issue 17): inputs are sacred, finite numbers, no tracebacks -------------------------

def _deep_json(w: World):
    (w.cap / "transforms_train.json").write_text("[" * 100_000 + "]" * 100_000)


def _deep_toml(w: World):
    (w.root / "ok.toml").write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")


def _png_bomb(w: World):
    """A valid PNG header claiming 100000 x 100000 pixels (a few hundred bytes on disk)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 6, 0, 0, 0)
    (w.cap / "train/r_1.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                                          + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def _singular_camera(w: World):
    m = np.array(w.meta["frames"][0]["transform_matrix"])
    m[:3, :3] *= 0.0
    w.frame(0, transform_matrix=m.tolist())


def _scaled_camera(w: World):
    m = np.array(w.meta["frames"][0]["transform_matrix"])
    m[:3, :3] *= 3.0
    w.frame(0, transform_matrix=m.tolist())


def _metrics_garbage(w: World):
    (w.asset / "metrics.json").write_text('{"albedo_psnr": ')


def _loss_plot_link_out(w: World):
    write_png(w.root / "secret.png", np.ones((4, 4, 3)))
    os.symlink(w.root / "secret.png", w.asset / "loss.png")


def _exr_write_fails(w: World, monkeypatch):
    import OpenEXR

    def broken(self, *a, **k):
        raise RuntimeError("Cannot write image file: No space left on device")

    monkeypatch.setattr(OpenEXR.File, "write", broken)


def _flat_mesh(w: World):
    v = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], np.float32)  # all on one line
    write_obj(w.mesh, Mesh(v, np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]], np.int32)))


def _huge_coords(w: World):
    m = _cube()
    write_obj(w.mesh, Mesh(m.vertices * 1e30, m.faces, m.uvs))


def _mesh_elsewhere(w: World):
    m = _cube()
    write_obj(w.mesh, Mesh(m.vertices + np.float32([500, 0, 0]), m.faces, m.uvs))


def _locked(w: World):
    """A run holds the output: the kernel lock on ``.out.lock``, as ``output_lock`` takes it."""
    import fcntl

    fd = os.open(w.root / ".out.lock", os.O_CREAT | os.O_RDWR, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    w.held.append(fd)


def _link_to_capture(w: World):
    os.symlink(w.cap, w.root / "link")




# (id, break the world, argv, words the message must contain, the file it must name or None)
CASES = [
    ("no-transforms", lambda w: (w.cap / "transforms_train.json").unlink(), material, "no transforms_train.json", "cap"),
    ("empty-transforms", lambda w: (w.cap / "transforms_train.json").write_text(""), material, "empty",
     "transforms_train.json"),
    ("malformed-json", lambda w: (w.cap / "transforms_train.json").write_text('{"frames": ['), material,
     "invalid JSON", "transforms_train.json"),
    ("json-not-object", lambda w: w.write_meta([1, 2]), material, "'frames' list", "transforms_train.json"),
    ("no-frames", lambda w: w.write_meta({"camera_angle_x": 0.7, "frames": []}), material, "no frames",
     "transforms_train.json"),
    ("frame-without-path", lambda w: w.write_meta(
        {**w.meta, "frames": [{"transform_matrix": w.meta["frames"][0]["transform_matrix"]}]}), material,
     "no 'file_path'", "transforms_train.json"),
    ("matrix-shape", lambda w: w.frame(0, transform_matrix=[[1, 0], [0, 1]]), material, "4x4",
     "transforms_train.json"),
    ("matrix-nan", lambda w: w.frame(0, transform_matrix=[[float("nan")] * 4] * 4), material, "finite",
     "transforms_train.json"),
    ("no-focal", lambda w: w.write_meta({"frames": w.meta["frames"]}), material, "no focal length",
     "transforms_train.json"),
    ("fov-out-of-range", lambda w: w.write_meta({**w.meta, "camera_angle_x": 7.0}), material, "not an angle",
     "transforms_train.json"),
    ("missing-image", lambda w: w.frame(2, file_path="train/nope"), material, "does not exist",
     "transforms_train.json"),
    ("path-dotdot", lambda w: w.frame(0, file_path="../mesh.obj"), material, "outside the capture",
     "transforms_train.json"),
    ("path-absolute", lambda w: w.frame(0, file_path="/etc/hostname"), material, "absolute path",
     "transforms_train.json"),
    ("symlink-out", _symlink_out, material, "outside the capture", "transforms_train.json"),
    ("mixed-sizes", _mixed_sizes, material, "earlier frames are", "r_1.png"),
    ("rgb-no-alpha-no-mask", _no_alpha, material, "no masks", "cap"),
    ("exr-nan", lambda w: _exr_frame(w, _nan_rgba()), material, "NaN/Inf", "r_0.exr"),
    ("exr-inf", lambda w: _exr_frame(w, _inf_rgba()), material, "NaN/Inf", "r_0.exr"),
    ("exr-negative", lambda w: _exr_frame(w, _neg_rgba()), material, "negative values", "r_0.exr"),
    ("truncated-png", lambda w: _truncate(w.cap / "train/r_1.png"), material, "cannot read image", "r_1.png"),
    ("truncated-exr", lambda w: (_exr_frame(w, _rgb()), _truncate(w.cap / "train/r_0.exr")), material,
     "cannot read EXR", "r_0.exr"),
    ("truncated-hdr", lambda w: (w.root / "env.hdr").write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 8 +X 16\n\x02"),
     lambda w: render(w, "--envmap", str(w.root / "env.hdr")), "cannot read HDR", "env.hdr"),
    ("envmap-not-2to1", lambda w: write_exr(w.env, np.ones((8, 8, 3), np.float32)),
     lambda w: render(w, "--envmap", str(w.env)), "not a 2:1", "env.exr"),
    ("envmap-nan", lambda w: write_exr(w.env, np.full((8, 16, 3), np.nan, np.float32)),
     lambda w: render(w, "--envmap", str(w.env)), "NaN/Inf", "env.exr"),
    ("mesh-empty-file", lambda w: _mesh_text(w, ""), material, "mesh", "mesh.obj"),
    ("mesh-no-faces", lambda w: _mesh_text(w, "v 0 0 0\nv 1 0 0\nv 0 1 0\n"), material, "mesh", "mesh.obj"),
    ("mesh-garbage", lambda w: w.mesh.write_bytes(os.urandom(300)), material, "mesh", "mesh.obj"),
    ("mesh-nan-vertex", _nan_vertex, material, "NaN/Inf vertex", "mesh.obj"),
    ("mesh-non-manifold", _nonmanifold, material, "non-manifold", "mesh.obj"),
    ("mesh-huge", _huge_mesh, material, "faces (limit 10)", "mesh.obj"),
    ("mesh-missing", lambda w: w.mesh.unlink(), material, "not found", "mesh.obj"),
    ("device-cuda-on-cpu", _no_cuda, lambda w: material(w, "--device", "cuda"), "CUDA", None),
    ("toml-unknown-key", lambda w: (w.root / "ok.toml").write_text("iterationz = 3\n"),
     lambda w: material(w, "--config", str(w.root / "ok.toml")), "unknown", "ok.toml"),
    ("toml-out-of-range", lambda w: (w.root / "ok.toml").write_text("spp = -4\n"),
     lambda w: material(w, "--config", str(w.root / "ok.toml")), "out of range", "ok.toml"),
    ("toml-wrong-type", lambda w: (w.root / "ok.toml").write_text('tex_res = "big"\n'),
     lambda w: material(w, "--config", str(w.root / "ok.toml")), "tex_res", "ok.toml"),
    ("toml-syntax", lambda w: (w.root / "ok.toml").write_text("spp = = 4\n"),
     lambda w: material(w, "--config", str(w.root / "ok.toml")), "TOML", "ok.toml"),
    ("output-exists", _existing_out, material, "--overwrite", "out"),
    ("asset-future-version", _future_asset, render, "newer than this relight", "asset.json"),
    ("asset-missing", lambda w: (w.asset / "asset.json").unlink(), render, "not found", "asset.json"),
    ("asset-nan-texture", _nan_texture, render, "NaN/Inf", "albedo.exr"),
    ("capture-future-format", _future_capture, material, "newer than this relight", "transforms_train.json"),
    ("bad-option-value", lambda w: None, lambda w: render(w, "--spp", "0"), "--spp", None),
    ("memory-over-limit", lambda w: None, lambda w: material(w, "--max-memory", "64M"), "max-memory", None),
    ("bad-memory-size", lambda w: None, lambda w: material(w, "--max-memory", "lots"), "memory size", None),
    ("unwritable-output", lambda w: None, lambda w: ["material", str(w.cap), "--mesh", str(w.mesh), "-o",
                                                    "/proc/relight-out/asset", "-q"], "cannot write here", "/proc"),
    ("output-under-a-file", lambda w: None, lambda w: ["render", str(w.asset), "-o", str(w.mesh / "r"), "-q"],
     "cannot write here", "mesh.obj"),
    ("disk-full-while-writing", _disk_full, render, "No space left on device", "view_000.exr"),
    ("export-unknown-format", lambda w: None, lambda w: ["export", str(w.asset), "-o", str(w.out / "a.fbx")],
     "unknown export format", "a.fbx"),
    # -- issue 17 --
    ("output-is-the-capture", lambda w: None, lambda w: ["material", w.cap, "--mesh", w.mesh, "-o", w.cap, "-q",
                                                         "--no-eval", "--overwrite"], "overlaps the input", "cap"),
    ("render-over-its-asset", lambda w: None, lambda w: ["render", w.asset, "-o", w.asset, "--overwrite", "-q"],
     "overlaps the input", "asset"),
    ("output-inside-input", lambda w: None, lambda w: ["render", w.asset, "-o", w.asset / "views", "-q"],
     "overlaps the input", "asset"),
    ("output-around-input", lambda w: None, lambda w: ["material", w.cap, "--mesh", w.mesh, "-o", w.root,
                                                       "--overwrite", "-q"], "overlaps the input", None),
    ("output-symlink-to-input", _link_to_capture, lambda w: ["material", w.cap, "--mesh", w.mesh, "-o",
                                                             w.root / "link", "--overwrite", "-q"],
     "overlaps the input", "link"),
    ("output-is-the-config", lambda w: None, lambda w: ["render", w.asset, "-o", w.root / "ok.toml", "-q"],
     "already exists", "ok.toml"),
    ("eval-into-the-asset", lambda w: None, lambda w: ["eval", w.asset, w.cap, "-o", w.asset / "asset"],
     "overlaps the input", "asset.json"),
    ("export-into-the-asset", lambda w: None, lambda w: ["export", w.asset, "-o", w.asset / "a.glb"],
     "overlaps the input", "a.glb"),
    ("toml-nan", lambda w: (w.root / "ok.toml").write_text("lr_env = nan\n"),
     lambda w: material(w, "--config", str(w.root / "ok.toml")), "finite", "ok.toml"),
    ("toml-inf", lambda w: (w.root / "ok.toml").write_text("lam = inf\n"),
     lambda w: ["geometry", w.cap, "-o", w.out, "-q", "--config", w.root / "ok.toml"], "finite", "ok.toml"),
    ("option-nan", lambda w: None, lambda w: render(w, "--rotate", "nan"), "finite", None),
    ("option-blamed-not-toml", lambda w: None, lambda w: material(w, "--config", str(w.root / "ok.toml"),
                                                                  "--iterations", "-5"),
     "iterations", "command-line option"),
    ("json-nested-deep", _deep_json, material, "nested too deeply", "transforms_train.json"),
    ("toml-nested-deep", _deep_toml, lambda w: material(w, "--config", str(w.root / "ok.toml")),
     "nested too deeply", "ok.toml"),
    ("nul-in-path", lambda w: None, lambda w: ["render", w.asset, "-o", str(w.out) + "\x00x", "-q"], "NUL", None),
    ("output-dot", lambda w: None, lambda w: ["render", w.asset, "-o", ".", "-q"], "name of its own", None),
    ("output-name-too-long", lambda w: None, lambda w: ["render", w.asset, "-o", w.root / ("a" * 250), "-q"],
     "bytes long", None),
    ("png-bomb", _png_bomb, material, "claims too many pixels", "r_1.png"),
    ("camera-singular", _singular_camera, material, "not a rigid camera pose", "transforms_train.json"),
    ("camera-scaled", _scaled_camera, material, "not a rigid camera pose", "transforms_train.json"),
    ("downscale-beyond-image", lambda w: None, lambda w: ["geometry", w.cap, "-o", w.out, "-q", "--downscale", "32"],
     "larger than the image", "r_0.png"),
    ("metrics-json-garbage", _metrics_garbage, lambda w: ["report", w.asset, "-o", w.out, "-q", "--spp", "1"],
     "invalid JSON", "metrics.json"),
    ("report-symlink-out-of-asset", _loss_plot_link_out,
     lambda w: ["report", w.asset, "-o", w.out, "-q", "--spp", "1"], "outside", "loss.png"),
    ("exr-write-fails", _exr_write_fails, render, "cannot write EXR", "view_000.exr"),
    ("mesh-no-area", _flat_mesh, material, "no surface area", "mesh.obj"),
    ("mesh-absurd-scale", _huge_coords, material, "coordinates reach", "mesh.obj"),
    ("mesh-out-of-view", _mesh_elsewhere, material, "no camera of the capture sees the mesh", "mesh.obj"),
    ("output-locked-by-another-run", _locked, render, "another relight run (PID", "out"),
]


def _digest(w: World) -> dict:
    """Every input file's bytes (the world without its output): no command may change them."""
    out = {}
    for p in sorted(w.root.rglob("*")):
        if p.is_file() and not p.is_symlink() and w.out not in p.parents and p != w.out:
            out[str(p.relative_to(w.root))] = p.read_bytes()
    return out


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    cap = capsys.readouterr()
    return e.value.code, cap.err


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    for fd in w.held:
        os.close(fd)


def test_the_world_is_valid(world, capsys):
    """The unbroken inputs load: every case below fails only because of what it breaks."""
    from relight.data.asset import load_asset
    from relight.data.capture_io import load_capture
    from relight.data.images import read_envmap
    from relight.data.mesh import load_mesh
    from relight.material.config import load_config

    assert len(load_capture(world.cap)) == 3 and load_capture(world.cap).has_masks
    assert len(load_mesh(world.mesh).faces) == 12
    assert load_asset(world.asset).albedo.shape == (8, 8, 3)
    assert read_envmap(world.env).shape == (8, 16, 3)
    assert load_config("fast", world.root / "ok.toml").iterations == 3
    code, err = run_cli(["inspect", world.cap], capsys)
    assert code == 0, err


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, world, capsys, monkeypatch):
    name, breaks, argv, words, names_file = case
    import inspect

    if "monkeypatch" in inspect.signature(breaks).parameters:
        breaks(world, monkeypatch)
    else:
        breaks(world)
    before = sorted(p.name for p in world.root.iterdir())
    inputs = _digest(world)
    code, err = run_cli(argv(world), capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert words.lower() in err.lower(), err
    assert "fix:" in err, err
    if names_file:
        assert names_file in err, err
    # nothing half-written: the output does not appear (or is untouched) and no temp folder is left
    after = sorted(p.name for p in world.root.iterdir())
    assert after == before, (before, after)
    assert _digest(world) == inputs, "an input changed"
    if name == "output-exists":
        assert (world.out / "precious.txt").read_text() == "keep me"
    else:
        assert not world.out.exists()


def test_case_count():
    """The issue asks for at least 25 cases; each id is unique."""
    ids = [c[0] for c in CASES]
    assert len(ids) >= 25 and len(set(ids)) == len(ids)
