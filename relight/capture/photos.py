"""A folder of photos, checked before structure from motion: listing, EXIF orientation, one
camera, no duplicates; and the diagnosis when SfM fails (blur, too little texture).

Photos are read as 8-bit sRGB with their EXIF orientation applied (a phone stores portrait
shots as landscape pixels plus an orientation tag); when any photo carries a rotation, SfM runs
on upright copies (:func:`upright_folder`), so poses, undistorted images and masks agree with
what a viewer shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from relight.data.images import LDR_EXTS
from relight.runtime.errors import RelightError

DUPLICATE_TOL = 1.0 / 255
"""Two photos whose 64x64 grey thumbnails differ by less than this (mean absolute, [0, 1]) are
the same shot: a copy or a burst frame, which adds no viewpoint and confuses matching."""
MIN_FEATURES = 300
"""Median SIFT features per photo below which a set is called blurry or textureless."""


def photo_names(photos: Path) -> list[str]:
    """JPEG/PNG files of ``photos`` (sorted); refuses folders with too few or with other files."""
    if not photos.is_dir():
        raise RelightError("photo folder not found", path=photos, fix="pass a folder of JPEG/PNG photos")
    files = sorted(p for p in photos.iterdir() if p.is_file() and not p.name.startswith("."))
    names = [p.name for p in files if p.suffix.lower() in LDR_EXTS]
    others = [p.name for p in files if p.suffix.lower() not in LDR_EXTS]
    if others:
        raise RelightError(f"{len(others)} file(s) that are not JPEG/PNG photos (e.g. {others[0]})", path=photos,
                           fix="keep only the photos in the folder (masks go in their own folder: --masks)")
    if len(names) < 3:
        raise RelightError(f"{len(names)} photo(s): structure from motion needs at least 3 (20+ around the object)",
                           path=photos, fix="photograph the object from all around, views <= 15 degrees apart")
    return names


def read_photo(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 sRGB, EXIF orientation applied."""
    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, ValueError) as e:
        raise RelightError(f"cannot read the photo ({e})", path=path, fix="replace or remove the file") from None


def _orientation(im: Image.Image) -> int:
    return int(im.getexif().get(0x0112, 1) or 1)


def check_photos(photos: Path, names: list[str]) -> bool:
    """Refuse mixed cameras (sizes or EXIF camera models differ) and duplicate photos; returns
    whether any photo has an EXIF rotation."""
    sizes, models, thumbs, rotated = {}, {}, [], False
    for n in names:
        try:
            with Image.open(photos / n) as im:
                o = _orientation(im)
                rotated |= o != 1
                w, h = im.size
                sizes.setdefault((h, w) if o in (5, 6, 7, 8) else (w, h), n)
                models.setdefault(str(im.getexif().get(0x0110, "")).strip("\x00 "), n)
                im.draft("L", (128, 128))  # JPEG: decode at 1/8 size
                thumbs.append(np.asarray(ImageOps.exif_transpose(im).convert("L").resize((64, 64)), np.float32) / 255)
        except (OSError, ValueError) as e:
            raise RelightError(f"cannot read the photo ({e})", path=photos / n, fix="replace or remove the file") from None
    if len(sizes) > 1:
        (s1, n1), (s2, n2) = list(sizes.items())[:2]
        raise RelightError(f"photos of different sizes ({n1}: {s1[0]}x{s1[1]}, {n2}: {s2[0]}x{s2[1]}): "
                           "relight poses one camera at a time", path=photos,
                           fix="keep the photos of one camera and zoom setting in the folder")
    named = {m: n for m, n in models.items() if m}
    if len(named) > 1:
        (m1, n1), (m2, n2) = list(named.items())[:2]
        raise RelightError(f"photos from different cameras ({n1}: {m1}, {n2}: {m2})", path=photos,
                           fix="keep the photos of one camera in the folder")
    t = np.stack(thumbs).reshape(len(names), -1)
    for i in range(len(names)):
        d = np.abs(t[i + 1:] - t[i]).mean(1)
        if len(d) and d.min() < DUPLICATE_TOL:
            j = i + 1 + int(d.argmin())
            raise RelightError(f"{names[i]} and {names[j]} are the same photo", path=photos,
                               fix="remove one of them (a copy or a burst frame adds no viewpoint)")
    return rotated


def upright_folder(photos: Path, names: list[str], work: Path) -> Path:
    """A folder of the photos with their EXIF rotation applied (re-encoded at JPEG quality 100
    or PNG, by extension, where rotated; links otherwise), keeping the file names SfM reports."""
    out = work / "upright"
    out.mkdir(parents=True, exist_ok=True)
    for n in names:
        with Image.open(photos / n) as im:
            if _orientation(im) == 1:
                (out / n).symlink_to((photos / n).resolve())
            else:
                jpeg = Path(n).suffix.lower() in (".jpg", ".jpeg")
                ImageOps.exif_transpose(im).convert("RGB").save(out / n, format="JPEG" if jpeg else "PNG",
                                                                **({"quality": 100, "subsampling": 0} if jpeg else {}))
    return out


def sharpness(path: Path) -> float:
    """Variance of the Laplacian of the grey photo at 512 px (larger = sharper)."""
    import cv2

    img = read_photo(path)
    s = 512 / max(img.shape[:2])
    grey = cv2.cvtColor(cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey.astype(np.float32) / 255, cv2.CV_32F).var())


def diagnose(photos: Path, names: list[str], features: dict[str, int]) -> str:
    """Why SfM may have failed, in a few words: few features (blur, no texture), the blurriest photos."""
    counts = np.array([features.get(n, 0) for n in names])
    if len(counts) and np.median(counts) < MIN_FEATURES:
        sharp = sorted((sharpness(photos / n), n) for n in names)
        return (f"the photos are blurry or textureless (median {int(np.median(counts))} SIFT features per "
                f"photo; blurriest: {', '.join(n for _, n in sharp[:3])})")
    return ""
