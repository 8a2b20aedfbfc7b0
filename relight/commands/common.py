"""Inputs shared by several commands: the preset for a device, a capture's splits, its GT mesh
and GT scene."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from relight.data.asset import load_asset
from relight.data.capture import Capture
from relight.data.capture_io import load_capture
from relight.data.mesh import Mesh, load_mesh
from relight.evaluation.evaluate import Reference
from relight.runtime.backend import Backend
from relight.runtime.errors import RelightError


def preset_for(backend: Backend, preset: str | None = None) -> str:
    """The settings preset: ``preset`` when given, else ``quality`` on CUDA and ``fast`` on CPU.
    The one place where the device chooses the preset."""
    return preset or ("quality" if backend.device == "cuda" else "fast")


@dataclass(frozen=True)
class CaptureSplits:
    train: Capture
    test: Capture | None


def require_masks(capture: Capture, path: Path) -> Capture:
    """``capture`` itself, or a one-line error when it has no object masks."""
    if not capture.has_masks:
        raise RelightError("capture has no masks (no alpha channel or mask_path)", path=path,
                           fix="add RGBA images or per-frame mask_path entries")
    return capture


def load_test(capture: Path, downscale: int = 1, holdout_every: int = 0) -> Capture | None:
    """The capture's test split, or None when it has none."""
    try:
        return load_capture(capture, "test", downscale=downscale, holdout_every=holdout_every)
    except RelightError:
        return None


def load_splits(capture: Path, downscale: int = 1, holdout_every: int = 0) -> CaptureSplits:
    """Train split (masks required) and the test split when there is one."""
    train = load_capture(capture, "train", downscale=downscale, holdout_every=holdout_every)
    return CaptureSplits(require_masks(train, capture), load_test(capture, downscale, holdout_every))


def require_in_view(mesh: Mesh, capture: Capture, path: Path) -> None:
    """Refuse a mesh that no camera of ``capture`` sees (its bounding-box centre is in front of
    no camera and inside no image): it belongs to another capture or to other units."""
    lo, hi = mesh.bounds()
    centre = ((lo + hi) / 2)[None]
    for cam in capture.cameras:
        (u, v), depth = (x[0] for x in cam.project(centre))
        if depth > 0 and 0 <= u <= cam.width and 0 <= v <= cam.height:
            return
    raise RelightError("no camera of the capture sees the mesh (its centre is outside every view)", path=path,
                       fix="use the mesh made for this capture, in the capture's units and world frame")


def gt_mesh_of(capture: Path) -> Mesh | None:
    """The capture's ground-truth mesh (``gt/mesh.obj`` written by ``relight synth``), or None."""
    p = Path(capture) / "gt" / "mesh.obj"
    return load_mesh(p) if p.is_file() else None


def reference_of(capture: Path, test: Capture) -> Reference:
    """The scene a synthetic capture's relit images were rendered from (``gt/``, as ``relight
    synth`` writes it) and their samples per pixel (``test.reference_spp``, read by the loader
    from the test split); a one-line error for any other capture."""
    fix = "--noise-free needs a capture made by `relight synth` (its gt/ folder and test_spp)"
    if test.reference_spp is None:
        raise RelightError("the capture does not record the samples per pixel of its references",
                           path=Path(capture), fix=fix)
    if not (Path(capture) / "gt" / "asset.json").is_file():
        raise RelightError("the capture has no ground-truth scene (gt/asset.json)", path=Path(capture), fix=fix)
    return Reference(load_asset(Path(capture) / "gt"), test.reference_spp)
