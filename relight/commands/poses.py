"""``relight poses``: a folder of photos to a capture (camera poses by structure from motion with
pycolmap, or read from LLFF ``poses_bounds.npy`` / an existing COLMAP model; object at the
origin, +y up): :mod:`relight.capture.poses`."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from relight.capture.poses import AUTO, PosesResult, estimate_poses, is_llff, write_capture
from relight.capture.sfm import SfmConfig
from relight.commands.output import command_output
from relight.runtime.errors import RelightError
from relight.runtime.progress import Reporter


def run(photos: Path, out: Path, *, masks: Path | str | None = None, colmap_model: Path | None = None,
        sfm: SfmConfig | None = None, light_frame: str = "world", overwrite: bool = False,
        reporter: Reporter | None = None) -> PosesResult:
    """Pose the photos in ``photos`` (an LLFF folder when it holds ``poses_bounds.npy``) and
    write the capture folder ``out``; returns what was registered. ``masks``: a folder of
    ``<photo stem>.png`` (white = object), ``"auto"`` to make them, or None. ``light_frame``:
    ``world`` (the light is fixed to the object) or ``rig`` (a turntable: camera, room and light
    stay still while the object turns; automatic masks then model a still background)."""
    rep = reporter or Reporter()
    photos = Path(photos)
    source = "colmap" if colmap_model is not None else "llff" if is_llff(photos) else "sfm"
    if source == "llff" and masks is None and (photos / "masks").is_dir():
        masks = photos / "masks"
    auto = masks is not None and str(masks) == AUTO
    if auto and source != "sfm":
        raise RelightError(f"--masks auto works with structure from motion, not with {source} poses", path=photos,
                           fix="pass the dataset's mask folder with --masks, or pose the photos by SfM")
    if masks is not None and not auto and not Path(masks).is_dir():
        raise RelightError("mask folder not found", path=masks, fix="pass a folder of <photo stem>.png masks")
    t = time.perf_counter()
    with command_output(out, overwrite=overwrite, inputs=[photos, None if auto else masks, colmap_model]) as o:
        with tempfile.TemporaryDirectory(prefix="relight-sfm-") as work:
            res, images = estimate_poses(photos, Path(work), source=source, masks=AUTO if auto else masks, sfm=sfm or SfmConfig(),
                                         colmap_model=colmap_model, turntable=light_frame == "rig", log=rep.log)
            res.seconds = time.perf_counter() - t
            with o.folder() as tmp:
                write_capture(tmp, res, images, Path(work) / "auto_masks" if auto else masks, photos, light_frame)
    missing = f"; not registered: {', '.join(res.unregistered)}" if res.unregistered else ""
    rep.log(f"wrote {out}: {len(res.names)} posed photos from {source} in {res.seconds:.0f} s, "
            f"light frame {light_frame}{missing}")
    return res
