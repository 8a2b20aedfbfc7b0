"""Compute-backend selection: the one place that picks devices and sets the Mitsuba variant.

A :class:`Backend` is created once per command (``select_backend``) and passed down to every
stage; nothing in relight reads a global device. On CPU Mitsuba runs the ``llvm_ad_rgb``
variant, which JIT-compiles through a system ``libLLVM``. With LLVM 15/16 the process aborts
(SIGABRT, uncatchable) at the first render, so before Mitsuba is touched we locate a libLLVM
>= 17, pin it through ``DRJIT_LIBLLVM_PATH`` and refuse with a clear message otherwise.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import torch

from relight.runtime.errors import BackendError

DeviceName = Literal["auto", "cpu", "cuda"]
MIN_LLVM = 17
LLVM_FIX = "install LLVM >= 17 with 'apt-get install -y libllvm19' (or set DRJIT_LIBLLVM_PATH to it)"
LLVM_GLOBS = (
    "/usr/lib/x86_64-linux-gnu/libLLVM*.so*",
    "/usr/lib/aarch64-linux-gnu/libLLVM*.so*",
    "/usr/lib/llvm-*/lib/libLLVM*.so*",
    "/usr/lib64/libLLVM*.so*",
    "/usr/local/lib/libLLVM*.so*",
    "/opt/homebrew/opt/llvm/lib/libLLVM.dylib",
)
_VERSION_RE = re.compile(r"libLLVM[-.](?:so\.)?(\d+)")


@dataclass(frozen=True)
class Backend:
    """Where computation runs.

    Attributes:
        device: ``"cpu"`` or ``"cuda"``.
        variant: the Mitsuba variant (``llvm_ad_rgb`` or ``cuda_ad_rgb``).
        torch_device: the torch device string for rasterization and losses.
    """

    device: Literal["cpu", "cuda"]
    variant: str
    torch_device: str

    def mitsuba(self):
        """Return the ``mitsuba`` module with this backend's variant set (idempotent)."""
        return _set_variant(self.variant)

    def describe(self) -> str:
        return f"{self.device} (mitsuba {self.variant}, torch {self.torch_device})"


def llvm_version_of(path: str | Path) -> int | None:
    """Major LLVM version of a libLLVM file, from its (resolved) name; None if unknown."""
    for name in (Path(path).name, Path(os.path.realpath(path)).name):
        m = _VERSION_RE.search(name)
        if m:
            return int(m.group(1))
    return None


def _probe_version(path: str) -> int | None:
    """Ask the library itself (LLVMGetVersion, LLVM >= 16) in a throw-away process."""
    code = (
        "import ctypes,sys\n"
        "l=ctypes.CDLL(sys.argv[1])\n"
        "f=getattr(l,'LLVMGetVersion',None)\n"
        "a,b,c=(ctypes.c_uint(),ctypes.c_uint(),ctypes.c_uint())\n"
        "f and f(ctypes.byref(a),ctypes.byref(b),ctypes.byref(c))\n"
        "print(a.value if f else 15)\n"
    )
    try:
        out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                             timeout=60, check=True)
        return int(out.stdout.strip())
    except (subprocess.SubprocessError, ValueError, OSError):
        return None


def find_llvm(candidates: list[str] | None = None) -> tuple[str | None, list[tuple[str, int | None]]]:
    """Pick the newest libLLVM >= MIN_LLVM among ``candidates`` (default: system globs).

    Returns ``(path or None, [(candidate, version), ...])`` so callers can explain a refusal.
    """
    if candidates is None:
        candidates = sorted({p for g in LLVM_GLOBS for p in glob.glob(g)})
    seen = []
    for c in candidates:
        if not os.path.isfile(c):
            continue
        v = llvm_version_of(c)
        if v is None:
            v = _probe_version(c)
        seen.append((c, v))
    good = [(v, c) for c, v in seen if v is not None and v >= MIN_LLVM]
    return (max(good)[1] if good else None), seen


@lru_cache(maxsize=1)
def ensure_llvm() -> str:
    """Make sure Dr.Jit's LLVM backend will load a libLLVM >= 17; return its path.

    Respects a user-set ``DRJIT_LIBLLVM_PATH`` (validated), else pins the best system library.
    Must run before the first ``llvm_*`` variant is set.
    """
    user = os.environ.get("DRJIT_LIBLLVM_PATH")
    if user:
        if not os.path.isfile(user):
            raise BackendError("DRJIT_LIBLLVM_PATH points to a missing file", path=user, fix=LLVM_FIX)
        v = llvm_version_of(user) or _probe_version(user)
        if v is None or v < MIN_LLVM:
            raise BackendError(f"libLLVM version {v or 'unknown'} is too old for Mitsuba's CPU "
                               f"backend (needs >= {MIN_LLVM}; older ones abort the process)",
                               path=user, fix=LLVM_FIX)
        return user
    path, seen = find_llvm()
    if path is None:
        found = ", ".join(f"{Path(c).name} ({v or '?'})" for c, v in seen) or "none"
        raise BackendError(f"no libLLVM >= {MIN_LLVM} found for Mitsuba's CPU backend "
                           f"(found: {found})", fix=LLVM_FIX)
    os.environ["DRJIT_LIBLLVM_PATH"] = path
    return path


def cuda_available() -> bool:
    """True when torch sees a CUDA device (nvdiffrast and cuda_ad_rgb need one)."""
    return bool(torch.cuda.is_available())


def select_backend(device: DeviceName = "auto") -> Backend:
    """Resolve ``--device auto|cpu|cuda`` into a :class:`Backend`, checking it is usable."""
    if device not in ("auto", "cpu", "cuda"):
        raise BackendError(f"unknown device '{device}'", fix="use --device auto, cpu or cuda")
    has_cuda = cuda_available()
    if device == "cuda" and not has_cuda:
        raise BackendError("--device cuda was requested but no CUDA GPU is visible to torch",
                           fix="use --device cpu (or auto), or install a CUDA build of torch")
    if device == "cuda" or (device == "auto" and has_cuda):
        return Backend("cuda", "cuda_ad_rgb", "cuda")
    ensure_llvm()
    return Backend("cpu", "llvm_ad_rgb", "cpu")


def _set_variant(variant: str):
    if variant.startswith("llvm"):
        ensure_llvm()
    import mitsuba as mi  # only once libLLVM is pinned (ensure_llvm above)

    if mi.variant() != variant:
        if variant not in mi.variants():
            raise BackendError(f"Mitsuba variant {variant} is not available in this build",
                               fix=f"available: {', '.join(mi.variants())}")
        mi.set_variant(variant)
    return mi
