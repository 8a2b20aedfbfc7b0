"""``relight poses``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import reporter


@click.command()
@click.argument("photos", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Capture folder to write.")
@click.option("--masks", type=click.Path(path_type=Path), default=None,
              help="Folder of masks, <photo stem>.png, white = object (SfM ignores the rest); 'auto': make "
                   "them (turntable or camera moving in front of a distant/plain background).")
@click.option("--colmap-model", type=click.Path(path_type=Path), default=None,
              help="Import this COLMAP model (sparse/0, text or binary, pinhole) instead of running SfM.")
@click.option("--matcher", type=click.Choice(["exhaustive", "sequential"]), default="exhaustive", show_default=True,
              help="exhaustive: every pair (photos); sequential: neighbours in file order (video frames).")
@click.option("--max-image-size", type=click.IntRange(256, 8192), default=1600, show_default=True,
              help="Longer side (pixels) the features are extracted at.")
@click.option("--light-frame", type=click.Choice(["world", "rig"]), default="world", show_default=True,
              help="world: the light is fixed to the object; rig: a turntable (camera, room and light still, "
                   "the object turns: each view sees the light turned by its turntable angle).")
@click.option("--overwrite", is_flag=True, help="Replace the output folder.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def poses(photos, out, masks, colmap_model, matcher, max_image_size, light_frame, overwrite, quiet):
    """Camera poses for a folder of PHOTOS: structure from motion with pycolmap (SIFT, matching,
    incremental mapping, undistortion), or an LLFF folder's poses_bounds.npy, or --colmap-model.
    Writes a nerfstudio capture (object at the origin, +y up) that relight fit reads.

    \b
    Example:
      relight poses ../shared/data/datasets/ethiopian_head_real -o out/head
    """
    from relight.capture.sfm import SfmConfig
    from relight.commands import poses as command

    command.run(photos, out, masks=masks, colmap_model=colmap_model,
                sfm=SfmConfig(matcher=matcher, max_image_size=max_image_size), light_frame=light_frame, overwrite=overwrite,
                reporter=reporter(quiet))
