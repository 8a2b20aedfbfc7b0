"""``relight inspect``: load a capture and summarise it (a quick validity check)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option


@click.command("inspect")
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("--split", default="train", show_default=True, help="train, val or test.")
@click.option("--downscale", type=click.IntRange(1, 64), default=1, show_default=True, help="Integer downscale on load.")
@click.option("--holdout-every", type=click.IntRange(0, 100000), default=0, show_default=True,
              help="For single-file captures: every k-th frame is 'test', the rest 'train'.")
@device_option
def inspect_capture(capture, split, downscale, holdout_every, device):
    """Read CAPTURE (NeRF-synthetic or nerfstudio folder, or its transforms JSON) and print a summary."""
    from relight.backend import select_backend
    from relight.io.capture_io import load_capture

    cap = load_capture(capture, split, downscale=downscale, holdout_every=holdout_every)
    for line in capture_summary(cap):
        click.echo(line)
    click.echo(f"backend for fitting: {select_backend(device).describe()}")


def capture_summary(cap) -> list[str]:
    h, w = cap.resolution
    c0 = cap.cameras[0]
    centers = [c.center for c in cap.cameras]
    import numpy as np

    dist = np.linalg.norm(np.array(centers), axis=1)
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
