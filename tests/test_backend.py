import os
import subprocess
import sys

import pytest

from relight.runtime import backend as bk
from relight.runtime.errors import BackendError


@pytest.mark.parametrize("name,ver", [("libLLVM-15.so.1", 15), ("libLLVM.so.19.1", 19),
                                      ("libLLVM-17.so", 17), ("libLLVM.so", None)])
def test_llvm_version_from_file_name(tmp_path, name, ver):
    p = tmp_path / name
    p.write_bytes(b"")
    assert bk.llvm_version_of(p) == ver


def test_llvm_version_follows_symlinks(tmp_path):
    real = tmp_path / "libLLVM.so.19.1"
    real.write_bytes(b"")
    (tmp_path / "libLLVM.so").symlink_to(real)
    assert bk.llvm_version_of(tmp_path / "libLLVM.so") == 19


def test_find_llvm_refuses_15_16_and_picks_newest(tmp_path):
    old = [tmp_path / "libLLVM-15.so.1", tmp_path / "libLLVM-16.so"]
    for p in old:
        p.write_bytes(b"")
    path, seen = bk.find_llvm([str(p) for p in old])
    assert path is None and {v for _, v in seen} == {15, 16}
    new = [tmp_path / "libLLVM-17.so.1", tmp_path / "libLLVM.so.19.1"]
    for p in new:
        p.write_bytes(b"")
    path, _ = bk.find_llvm([str(p) for p in old + new])
    assert path == str(new[1])


def test_old_llvm_is_refused_before_any_render(tmp_path):
    """With only LLVM 15 the process would SIGABRT at the first render: we must exit 2 first."""
    fake = tmp_path / "libLLVM-15.so.1"
    fake.write_bytes(b"")
    env = {**os.environ, "DRJIT_LIBLLVM_PATH": str(fake)}
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "cli.main", "synth", "spot", "-o", str(out), "--device", "cpu",
                        "--res", "16", "--views", "1"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "libllvm19" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_unknown_and_unavailable_devices():
    with pytest.raises(BackendError):
        bk.select_backend("tpu")
    if not bk.cuda_available():
        with pytest.raises(BackendError, match="no CUDA GPU"):
            bk.select_backend("cuda")


def test_cpu_backend_sets_llvm_variant(cpu_backend):
    assert cpu_backend.variant == "llvm_ad_rgb" and cpu_backend.torch_device == "cpu"
    mi = cpu_backend.mitsuba()
    assert mi.variant() == "llvm_ad_rgb"
    assert bk.llvm_version_of(os.environ["DRJIT_LIBLLVM_PATH"]) >= bk.MIN_LLVM


def test_auto_prefers_cuda_when_present():
    b = bk.select_backend("auto")
    assert b.device == ("cuda" if bk.cuda_available() else "cpu")


def test_cuda_backend_variant(cuda_backend):
    assert cuda_backend.mitsuba().variant() == "cuda_ad_rgb"
