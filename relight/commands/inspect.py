"""``relight inspect``: a summary of a capture, as relight reads it (a check before fitting)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from relight.capture.background import nearest_views
from relight.capture.mask_config import MaskConfig
from relight.data.capture import Capture
from relight.data.capture_io import load_capture
from relight.runtime.paths import read_json

COVERAGE_RATIO = 1.5
"""A view is flagged when its mask covers more than this factor more (or less) of the image than
the median of its four nearest views: a silhouette's area changes smoothly with the viewpoint."""


def coverage(cap: Capture) -> np.ndarray:
    """(N,) share of each view its mask covers (read one view at a time)."""
    return np.array([float(m.mean()) for m in cap.masks])


def mask_flags(cap: Capture, ratio: float = COVERAGE_RATIO, cov: np.ndarray | None = None) -> list[tuple[str, float, float]]:
    """``(name, coverage, neighbours' median coverage)`` of the views whose mask disagrees with
    the views nearest in viewing direction."""
    if len(cap) < 5:
        return []
    cov = coverage(cap) if cov is None else cov
    out = []
    for i, near in enumerate(nearest_views(cap.cameras, 4)):
        ref = float(np.median(cov[near]))
        if ref > 0 and not 1 / ratio <= cov[i] / ref <= ratio:
            out.append((cap.names[i], float(cov[i]), ref))
    return out


def mask_lines(cap: Capture, cov: np.ndarray | None = None) -> list[str]:
    """Per-view mask coverage and the views whose masks disagree with the others."""
    cov = coverage(cap) if cov is None else cov
    per = "  ".join(f"{n} {c:.3f}" for n, c in zip(cap.names, cov, strict=True))
    lines = [f"mask coverage per view: {per}"]
    flags = mask_flags(cap, cov=cov)
    if flags:
        lines.append("masks that disagree with their neighbouring views (coverage vs their median): "
                     + ", ".join(f"{n} {c:.3f} vs {r:.3f}" for n, c, r in flags))
    info = read_json(cap.root / "poses.json").get("masks") if cap.root and (cap.root / "poses.json").is_file() else None
    if isinstance(info, dict) and info.get("flagged"):
        lines.append(f"automatic masks flagged by relight poses ({info.get('mode')}; IoU with the visual hull "
                     f"< {MaskConfig.flag_iou}): " + ", ".join(info["flagged"]))
    return lines


def capture_summary(cap: Capture) -> list[str]:
    """Lines describing ``cap``: views, resolution, intrinsics, camera distances, masks, GT."""
    h, w = cap.resolution
    c0 = cap.cameras[0]
    dist = np.linalg.norm(np.array([c.center for c in cap.cameras]), axis=1)
    cov = coverage(cap)
    radiance = sum(float(im.sum()) for im in cap.images)  # view by view: a large capture is never whole
    lines = [f"views: {len(cap)}  resolution: {w}x{h}  source: {'linear EXR' if cap.hdr else '8-bit sRGB'}",
             f"intrinsics (view 0): fx={c0.fx:.2f} fy={c0.fy:.2f} cx={c0.cx:.2f} cy={c0.cy:.2f} "
             f"fov_x={np.degrees(c0.fov_x):.2f} deg",
             f"camera distance to origin: {dist.min():.3f} .. {dist.max():.3f}",
             f"masks: {'yes' if cap.has_masks else 'none (all ones)'}  mean coverage {cov.mean():.3f}",
             f"mean linear radiance in mask: {radiance / max(cov.sum() * h * w * 3, 1e-9):.4f}"]
    if cap.has_masks:
        lines += mask_lines(cap, cov)
    if cap.gt is not None:
        lines.append("ground-truth AOVs: " + ", ".join(k for k, v in vars(cap.gt).items() if v is not None))
    if cap.relit:
        lines.append("relit sets: " + ", ".join(cap.relit))
    return lines


def run(capture: Path, split: str = "train", downscale: int = 1, holdout_every: int = 0) -> list[str]:
    """Read one split of ``capture``; returns its summary lines."""
    return capture_summary(load_capture(capture, split, downscale=downscale, holdout_every=holdout_every))
