"""Shared fixtures: backends that exist on this machine, shared data, a tiny synthetic capture.

* ``cpu_backend``: Mitsuba ``llvm_ad_rgb`` (needs libLLVM >= 17; the README setup installs it).
* ``cuda_backend``: skipped unless torch sees a CUDA GPU.
* ``shared_data``: ``../shared/data`` beside the checkout, skipped when absent (fresh clones).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from relight.runtime.backend import cuda_available, select_backend

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RELIGHT_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def cpu_backend():
    return select_backend("cpu")


@pytest.fixture(scope="session")
def cuda_backend():
    if not cuda_available():
        pytest.skip("no CUDA GPU")
    return select_backend("cuda")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


def tiny_spec(name: str = "spot", **over):
    """A built-in scene shrunk for tests: 32x32, few views, low spp, two relit envmaps."""
    from dataclasses import replace

    from relight.render.scene import load_scene

    spec = load_scene(name)
    spec = replace(spec, light=replace(spec.light, relight=spec.light.relight[:2]))
    kw = {"res": 32, "views": 6, "test_views": 3, "spp": 16, "test_spp": 16, "max_depth": 3}
    kw.update(over)
    return spec.with_overrides(**kw)


@pytest.fixture(scope="session")
def tiny_capture(tmp_path_factory, cpu_backend) -> Path:
    """A spot capture rendered once per session (32x32, 6 train / 3 test views, 2 relit sets)."""
    from relight.render.synth import synthesize

    out = tmp_path_factory.mktemp("cap") / "spot"
    synthesize(tiny_spec(), out, cpu_backend)
    return out


@pytest.fixture(scope="session")
def train(tiny_capture):
    """The tiny capture's training split."""
    from relight.data.capture_io import load_capture

    return load_capture(tiny_capture, "train")


@pytest.fixture(scope="session")
def gt(tiny_capture):
    """The tiny capture's ground-truth asset."""
    from relight.data.asset import load_asset

    return load_asset(tiny_capture / "gt")
