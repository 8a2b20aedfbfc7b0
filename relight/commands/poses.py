"""``relight poses``: a folder of photos to a capture (camera poses by structure from motion with
pycolmap, or read from LLFF ``poses_bounds.npy`` / an existing COLMAP model; object at the
origin, +y up): :mod:`relight.capture.poses`."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from relight.capture.poses import PosesResult, estimate_poses, write_capture
from relight.capture.sfm import SfmConfig
from relight.commands.output import command_output
from relight.runtime.errors import RelightError
from relight.runtime.progress import Reporter


def run(photos: Path, out: Path, *, masks: Path | None = None, colmap_model: Path | None = None,
        sfm: SfmConfig | None = None, overwrite: bool = False, reporter: Reporter | None = None) -> PosesResult:
    """Pose the photos in ``photos`` (an LLFF folder when it holds ``poses_bounds.npy``) and
    write the capture folder ``out``; returns what was registered."""
    rep = reporter or Reporter()
    photos = Path(photos)
    source = "colmap" if colmap_model is not None else "llff" if (photos / "poses_bounds.npy").is_file() else "sfm"
    if source == "llff" and masks is None and (photos / "masks").is_dir():
        masks = photos / "masks"
    if masks is not None and not Path(masks).is_dir():
        raise RelightError("mask folder not found", path=masks, fix="pass a folder of <photo stem>.png masks")
    t = time.perf_counter()
    with command_output(out, overwrite=overwrite, inputs=[photos, masks, colmap_model]) as o:
        with tempfile.TemporaryDirectory(prefix="relight-sfm-") as work:
            res, images = estimate_poses(photos, Path(work), source=source, masks=masks, sfm=sfm or SfmConfig(),
                                         colmap_model=colmap_model, log=rep.log)
            res.seconds = time.perf_counter() - t
            with o.folder() as tmp:
                write_capture(tmp, res, images, masks, photos)
    missing = f"; not registered: {', '.join(res.unregistered)}" if res.unregistered else ""
    rep.log(f"wrote {out}: {len(res.names)} posed photos from {source} in {res.seconds:.0f} s{missing}")
    return res
