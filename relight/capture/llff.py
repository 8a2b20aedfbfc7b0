"""LLFF captures: ``poses_bounds.npy`` (N x 17: a 3 x 5 matrix ``[R | t | (H, W, focal)]`` per
image, then near / far) beside ``images/`` (sorted file order = row order), optional ``masks/``.

LLFF's rotation columns are [down, right, backwards]; relight's OpenGL camera axes are
[right, up, backwards] = [col 1, -col 0, col 2], as LLFF loaders do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from relight.data.camera import Camera
from relight.data.images import LDR_EXTS
from relight.runtime.errors import RelightError


def llff_images(folder: Path) -> list[Path]:
    """The images of an LLFF folder in row order (sorted names, as LLFF's loader sorts them)."""
    imgs = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in LDR_EXTS) \
        if (folder / "images").is_dir() else []
    if not imgs:
        raise RelightError("no images/ folder with JPEG/PNG images beside poses_bounds.npy", path=folder,
                           fix="put the photos in FOLDER/images")
    return imgs


def read_llff(folder: Path) -> tuple[list[Path], list[Camera]]:
    """Images and their cameras (OpenGL axes, LLFF's world frame) of an LLFF capture folder."""
    folder = Path(folder)
    path = folder / "poses_bounds.npy"
    try:
        pb = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise RelightError(f"cannot read poses_bounds.npy ({e})", path=path,
                           fix="write an N x 17 float array with numpy.save") from None
    if pb.ndim != 2 or pb.shape[1] != 17 or not np.all(np.isfinite(pb)):
        raise RelightError(f"poses_bounds.npy must be a finite N x 17 array, got shape {pb.shape}", path=path,
                           fix="use LLFF's format: 3 x 5 pose [R | t | H W focal] + near/far per image")
    imgs = llff_images(folder)
    if len(imgs) != len(pb):
        raise RelightError(f"{len(pb)} poses but {len(imgs)} images", path=path,
                           fix="keep exactly one image per row of poses_bounds.npy in images/")
    cams = []
    for p in pb:
        m = p[:15].reshape(3, 5)
        h, w, f = m[:, 4]
        c2w = np.eye(4)
        c2w[:3, :3] = np.stack([m[:, 1], -m[:, 0], m[:, 2]], 1)
        c2w[:3, 3] = m[:, 3]
        cams.append(Camera(int(round(w)), int(round(h)), float(f), float(f), w / 2.0, h / 2.0, c2w))
    return imgs, cams
