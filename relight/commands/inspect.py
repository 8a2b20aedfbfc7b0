"""``relight inspect``: a summary of a capture, as relight reads it (a check before fitting)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from relight.data.capture import Capture
from relight.data.capture_io import load_capture


def capture_summary(cap: Capture) -> list[str]:
    """Lines describing ``cap``: views, resolution, intrinsics, camera distances, masks, GT."""
    h, w = cap.resolution
    c0 = cap.cameras[0]
    dist = np.linalg.norm(np.array([c.center for c in cap.cameras]), axis=1)
    lines = [f"views: {len(cap)}  resolution: {w}x{h}  source: {'linear EXR' if cap.hdr else '8-bit sRGB'}",
             f"intrinsics (view 0): fx={c0.fx:.2f} fy={c0.fy:.2f} cx={c0.cx:.2f} cy={c0.cy:.2f} "
             f"fov_x={np.degrees(c0.fov_x):.2f} deg",
             f"camera distance to origin: {dist.min():.3f} .. {dist.max():.3f}",
             f"masks: {'yes' if cap.has_masks else 'none (all ones)'}  mean coverage {cap.masks.mean():.3f}",
             f"mean linear radiance in mask: {cap.images.sum() / max(cap.masks.sum() * 3, 1e-9):.4f}"]
    if cap.gt is not None:
        lines.append("ground-truth AOVs: " + ", ".join(k for k, v in vars(cap.gt).items() if v is not None))
    if cap.relit:
        lines.append("relit sets: " + ", ".join(cap.relit))
    return lines


def run(capture: Path, split: str = "train", downscale: int = 1, holdout_every: int = 0) -> list[str]:
    """Read one split of ``capture``; returns its summary lines."""
    return capture_summary(load_capture(capture, split, downscale=downscale, holdout_every=holdout_every))
