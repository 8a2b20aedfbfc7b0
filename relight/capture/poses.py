"""A folder of photos to a capture relight reads: camera poses from structure from motion
(:mod:`relight.capture.sfm`), from an LLFF ``poses_bounds.npy`` (:mod:`relight.capture.llff`)
or from an existing COLMAP model, then :func:`relight.capture.frame.normalize_frame`.

The capture is a nerfstudio ``transforms.json`` (per-frame pinhole intrinsics, OpenGL
camera-to-world, ``mask_path`` when masks exist) with ``images/`` (undistorted when SfM or the
COLMAP model had distortion) and ``masks/`` (white = object, undistorted the same way), plus
``poses.json``: where the poses came from, which photos were registered, the reprojection error
and the similarity that put the object at the origin, +y up.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from relight.capture.background import per_view, static_difference
from relight.capture.frame import normalize_frame
from relight.capture.llff import llff_images, read_llff
from relight.capture.mask_config import MaskConfig
from relight.capture.masks import (
    auto_masks,
    check_masks,
    grow,
    initial_mask,
    shrink,
    working_size,
)
from relight.capture.photos import check_photos, photo_names, read_photo, upright_folder
from relight.capture.sfm import SfmConfig, read_model, run_sfm
from relight.data.camera import Camera
from relight.data.capture_io import camera_frame
from relight.runtime.errors import RelightError
from relight.runtime.paths import write_json

AUTO = "auto"
"""``masks=AUTO``: make the masks (:mod:`relight.capture.masks`)."""


@dataclass
class PosesResult:
    source: str
    names: list[str]
    cameras: list[Camera]
    unregistered: list[str] = field(default_factory=list)
    reprojection_px: float = float("nan")
    seconds: float = 0.0
    distorted: dict = field(default_factory=dict)
    """name -> COLMAP camera with distortion (SfM), to undistort the masks like the photos."""
    lens: dict = field(default_factory=dict)
    """The photos' lens as SfM estimated it (COLMAP model name, size, parameters), before undistortion."""
    masks: dict = field(default_factory=dict)
    """Automatic masks: ``mode``, per photo ``agreement`` with the other views (IoU with the
    visual hull), ``flagged`` photos (empty when the masks were given)."""


def is_llff(photos: Path) -> bool:
    """An LLFF dataset folder (``poses_bounds.npy`` beside ``images/``): poses given, no SfM."""
    return (Path(photos) / "poses_bounds.npy").is_file()


def source_images(photos: Path) -> list[Path]:
    """The images :func:`estimate_poses` reads from ``photos`` (an LLFF folder's ``images/``, else
    the photos themselves), refused as it refuses them."""
    return llff_images(photos) if is_llff(photos) else [photos / n for n in photo_names(photos)]


def mask_for(masks: Path, name: str) -> Path:
    """The mask of photo ``name``: ``masks/<stem>.png`` or ``masks/<name>.png`` (COLMAP's naming)."""
    for cand in (masks / f"{Path(name).stem}.png", masks / f"{name}.png", masks / name):
        if cand.is_file():
            return cand
    raise RelightError(f"no mask for photo {name}", path=masks, fix=f"add {Path(name).stem}.png (white = object)")


def undistort_mask(mask: np.ndarray, src_cam, dst: Camera) -> np.ndarray:
    """Resample ``mask`` (H, W) taken with COLMAP camera ``src_cam`` (any model) into the pinhole
    camera ``dst`` (nearest neighbour: masks stay binary)."""
    ys, xs = np.mgrid[0:dst.height, 0:dst.width].astype(np.float64) + 0.5
    rays = np.stack([(xs - dst.cx) / dst.fx, (ys - dst.cy) / dst.fy], -1).reshape(-1, 2)
    px = np.asarray(src_cam.img_from_cam(np.concatenate([rays, np.ones((len(rays), 1))], 1)))[:, :2]
    ix = np.clip(np.floor(px[:, 0]).astype(int), 0, mask.shape[1] - 1)
    iy = np.clip(np.floor(px[:, 1]).astype(int), 0, mask.shape[0] - 1)
    return mask[iy, ix].reshape(dst.height, dst.width)


def estimate_poses(photos: Path, work: Path, *, source: str, masks: Path | None, sfm: SfmConfig,
                   colmap_model: Path | None = None, turntable: bool = False,
                   log: Callable[[str], None] = print) -> tuple[PosesResult, Path]:
    """Poses of the photos (and the folder holding the images that match them); ``turntable``:
    the camera and the room stay still (automatic masks then model a still background)."""
    if source == "llff":
        imgs, cams = read_llff(photos)
        return PosesResult("llff", [p.name for p in imgs], cams), photos / "images"
    names = photo_names(photos)
    rotated = check_photos(photos, names)
    if source == "colmap":
        cams, _, err = read_model(colmap_model)
        reg = [n for n in names if n in cams]
        if not reg:
            raise RelightError("the COLMAP model names none of the photos", path=colmap_model,
                               fix="pass the images folder the model was made from")
        with Image.open(photos / reg[0]) as im:
            size = im.size
        if (cams[reg[0]].width, cams[reg[0]].height) != size:
            raise RelightError("the COLMAP model's image size differs from the photos'", path=colmap_model,
                               fix="pass the model's own (undistorted) images folder")
        return PosesResult("colmap", reg, [cams[n] for n in reg], [n for n in names if n not in cams], err), photos
    if rotated:
        log("poses: some photos carry an EXIF rotation: SfM runs on upright copies")
        photos = upright_folder(photos, names, work)
    if masks == AUTO:
        return _auto_masks(photos, names, work, sfm, MaskConfig(), turntable, log)
    colmap_masks = None
    if masks is not None:
        colmap_masks = work / "colmap_masks"
        colmap_masks.mkdir(parents=True, exist_ok=True)
        for n in names:  # COLMAP wants <image name>.png, black = no features
            shutil.copyfile(mask_for(masks, n), colmap_masks / f"{n}.png")
    r = run_sfm(photos, names, work, sfm, colmap_masks, log)
    return (PosesResult("sfm", r.names, r.cameras, r.unregistered, r.reprojection_px, distorted=r.distorted,
                        lens=lens_of(r.distorted[r.names[0]])), r.image_dir)


def lens_of(cam) -> dict:
    """A pycolmap camera as JSON: ``model``, ``width``, ``height``, ``params`` (COLMAP's order)."""
    return {"model": cam.model_name, "width": int(cam.width), "height": int(cam.height),
            "params": [float(x) for x in cam.params]}


def _auto_masks(photos: Path, names: list[str], work: Path, sfm: SfmConfig, cfg: MaskConfig, static: bool,
                log: Callable[[str], None]) -> tuple[PosesResult, Path]:
    """SfM with automatic masks (:mod:`relight.capture.masks`), written to ``work/auto_masks``
    already in the undistorted cameras; ``static``: a turntable's still background. Masks are
    made at :attr:`MaskConfig.max_side` and scaled back to the photos."""
    colmap_masks, first = None, None
    if static:  # a still background would pin every camera to one pose: mask it before SfM
        log("masks: a turntable (still background): first masks from the median photo")
        full = [read_photo(photos / n) for n in names]
        sizes = [im.shape[:2] for im in full]
        images = [shrink(im, working_size(*im.shape[:2], cfg.max_side)) for im in full]
        del full
        first = dict(zip(names, per_view(lambda im, d, size: grow(initial_mask(im, d, None, cfg), size),
                                         zip(images, static_difference(images, cfg.low), sizes, strict=True),
                                         cfg.threads), strict=True))
        del images
        colmap_masks = work / "colmap_masks"
        colmap_masks.mkdir(parents=True, exist_ok=True)
        for n, m in first.items():
            Image.fromarray(np.where(m, 255, 0).astype(np.uint8)).save(colmap_masks / f"{n}.png")
    else:
        log("masks: the camera moves: background predicted from neighbouring views after SfM")
    r = run_sfm(photos, names, work, sfm, colmap_masks, log)
    und = [read_photo(r.image_dir / n) for n in r.names]
    sizes = [im.shape[:2] for im in und]
    small = [working_size(*s, cfg.max_side) for s in sizes]
    und = [shrink(im, s) for im, s in zip(und, small, strict=True)]
    cams = [c.scaled(s[1], s[0]) for c, s in zip(r.cameras, small, strict=True)]
    if first is not None:
        first = [shrink(undistort_mask(np.where(first[n], 255, 0).astype(np.uint8), r.distorted[n], c), s) >= 128
                 for n, c, s in zip(r.names, r.cameras, small, strict=True)]
    log(f"masks: GrabCut and visual-hull consistency on {len(r.names)} views")
    masks, agree = auto_masks(und, cams, r.points, cfg, static, first)
    flagged = check_masks(r.names, masks, agree, cfg)
    out = work / "auto_masks"
    out.mkdir(exist_ok=True)
    for n, m, size in zip(r.names, masks, sizes, strict=True):
        Image.fromarray(np.where(grow(m, size), 255, 0).astype(np.uint8)).save(out / f"{Path(n).stem}.png")
    if flagged:
        log(f"masks: {len(flagged)} view(s) disagree with the others (IoU with the hull < {cfg.flag_iou}): "
            + ", ".join(flagged[:8]) + (" ..." if len(flagged) > 8 else ""))
    info = {"mode": "auto, " + ("still background (turntable)" if static else "moving camera"),
            "agreement": {n: round(a, 4) for n, a in zip(r.names, agree, strict=True)}, "flagged": flagged}
    # distorted={}: the masks were made in the undistorted cameras already
    return (PosesResult("sfm", r.names, r.cameras, r.unregistered, r.reprojection_px, masks=info,
                        lens=lens_of(r.distorted[r.names[0]])), r.image_dir)


def write_capture(out: Path, res: PosesResult, images: Path, masks: Path | None, photos: Path,
                  light_frame: str = "world") -> None:
    """Write the capture folder ``out`` (exists, empty) from normalized poses; ``light_frame``
    (:attr:`relight.data.capture.Capture.light_turns_deg`) goes into ``transforms.json``."""
    cams, sim = normalize_frame(res.cameras)
    (out / "images").mkdir()
    frames = []
    for name, cam in zip(res.names, cams, strict=True):
        shutil.copyfile(images / name, out / "images" / name)
        fr = camera_frame(cam, f"images/{name}")
        if masks is not None:
            (out / "masks").mkdir(exist_ok=True)
            m = np.asarray(Image.open(mask_for(masks, name)).convert("L"))
            if name in res.distorted:
                m = undistort_mask(m, res.distorted[name], cam)
            if m.shape != (cam.height, cam.width):
                raise RelightError(f"mask is {m.shape[1]}x{m.shape[0]}, its photo {cam.width}x{cam.height}",
                                   path=mask_for(masks, name), fix="give masks the size of their photos")
            Image.fromarray(np.where(m >= 128, 255, 0).astype(np.uint8)).save(out / "masks" / f"{Path(name).stem}.png")
            fr["mask_path"] = f"masks/{Path(name).stem}.png"
        frames.append(fr)
    c = cams[0]
    write_json(out / "transforms.json", {"fl_x": c.fx, "fl_y": c.fy, "cx": c.cx, "cy": c.cy, "w": c.width,
                                         "h": c.height, "camera_model": "PINHOLE", "light_frame": light_frame,
                                         "frames": frames})
    write_json(out / "poses.json", {
        "source": res.source, "photos": str(photos), "registered": len(res.names),
        "unregistered": res.unregistered, "reprojection_px": res.reprojection_px,
        "seconds": round(res.seconds, 1),
        "world_from_source": sim.tolist(), "light_frame": light_frame,
        **({"lens": res.lens} if res.lens else {}), **({"masks": res.masks} if res.masks else {}),
        "frame": "object at the origin, +y up (mean camera up), median camera distance 3.2, first camera on +z"})
