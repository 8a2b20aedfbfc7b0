"""Structure from motion with pycolmap (COLMAP's own bindings, CPU): SIFT features, matching,
incremental mapping, undistortion to pinhole. Returns relight cameras in COLMAP's world frame
(:mod:`relight.capture.frame` then puts the object at the origin, upright).

COLMAP's conventions: ``cam_from_world`` maps world to camera with OpenCV axes (+x right, +y
down, +z forward); relight's cameras are camera-to-world with OpenGL axes (+y up, looks along
-z): ``c2w = inverse([R | t]) @ diag(1, -1, -1, 1)``. Masks for COLMAP are images named
``<image name>.png`` where black pixels get no features (background on a turntable must not pin
every camera to one pose).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from relight.capture.photos import diagnose
from relight.data.camera import Camera
from relight.runtime.errors import RelightError

OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])
MATCHERS = ("exhaustive", "sequential")


@dataclass
class SfmConfig:
    matcher: str = "exhaustive"
    """``exhaustive`` (every pair: best for up to a few hundred photos) or ``sequential``
    (neighbours in file order, with loop detection off: video frames)."""
    max_image_size: int = 1600
    """Features are extracted from images downscaled to this longer side (pixels)."""
    max_features: int = 8192
    """SIFT features per image."""
    min_registered: float = 0.5
    """Fail when fewer than this fraction of the photos get a pose."""
    single_camera: bool = True
    """All photos from one camera and lens (one set of intrinsics); false: one per photo."""
    max_reproj_error: float = 2.0
    """Observations the mapper keeps (pixels, at the extraction size): a 3D point's observation
    farther than this from its reprojection is dropped as a wrong match. COLMAP's default is
    4 px. Measured on one database of the 64-photo spot photo set (512², truth known), rotation
    error max / centre error max: 4 px 0.538° / 1.21 %, 3 px 0.314° / 0.50 %, 2 px 0.201° /
    0.31 %, 1.5 px 0.187° / 0.38 %, 1 px 1.10° / 1.79 % (too few observations left on some
    photos); see results/photos.md for the real head capture."""
    max_ransac_trials: int = 2000
    """RANSAC trials per photo pair when matches are verified (COLMAP's default: 10000). Pairs
    that do not overlap run every trial and dominated matching: on the 64-photo spot set (512²,
    floor in view, 2016 pairs) matching took 113 s at 10000 and 69 s at 2000, with 6 weak
    pairs (<= 20 inliers) lost and poses as good (rotation max 0.205° -> 0.196°, centre max
    0.32 % both). Unchanged on the real head (66 photos, masked): the same poses, 54 -> 50 s."""
    affine_shape: bool = True
    """SIFT with affine shape estimation (COLMAP's, CPU only): features covariant to the foreshortening
    of a plane seen at a grazing angle, such as the table or floor from a low camera, where
    plain SIFT's circular patches no longer match the same texture seen from above. Measured on
    the blob photo set (64 photos at 512², a plain object on a textured floor, truth known),
    three RANSAC/mapper seeds each: plain SIFT registered 59/64 every time (the 5 lowest views,
    10-14° above the floor, missing); affine 64/64 every time, rotation error max 0.100-0.105°
    (plain: 0.098-0.105° on the 59 over four runs), centre max 0.28 % (0.21 %), SfM 26 -> 34 s (a niced render
    running beside it). On the real head (66 masked photos, 1000², features on the object alone)
    the same poses (rotation vs the dataset's median / max 0.374° / 3.09° -> 0.403° / 3.14°) and
    137 -> 192 s (the same). The spot photo set: 64/64, rotation max 0.135°, `relight poses`
    with masks 133.7 s alone (target 300 s). Lowering the inliers a photo needs instead (30 ->
    15) also registered 64/64 but with a worse pose (max 0.238°); DSP-SIFT with affine shape
    registered 60/64, DSP alone 2."""
    domain_size_pooling: bool = False
    """SIFT descriptors pooled over several patch sizes (CPU only; COLMAP's DSP-SIFT)."""
    abs_pose_min_inliers: int = 30
    """2D-3D inliers a photo needs to be registered (COLMAP's default: 30)."""
    camera_model: str = "SIMPLE_RADIAL"
    """COLMAP camera model estimated (undistorted to PINHOLE afterwards)."""
    num_threads: int = -1
    """Threads for feature extraction and matching (-1: all cores). Both give the same database
    on any number of threads (keypoints, matches and verified pairs compared byte for byte)."""
    mapper_threads: int = 1
    """Threads for incremental mapping and its bundle adjustments. One, so that the same photos
    give the same poses: on more, Ceres sums the adjustment's terms in the order its threads
    finish, and the rounding differences grow through the mapper's later choices. Measured on
    12 real head photos (640 px) with the other core busy: on 2 threads one run in six came out
    with other poses (camera matrices up to 0.70 apart), though the databases were identical."""
    seed: int = 0
    """Seed of COLMAP's RANSAC (two-view verification) and of the mapper: the same photos give
    the same poses run after run. Measured on 64 photos at 512²: unseeded, a second matching gave
    459 of 1124 image pairs other inlier counts; seeded, identical. -1: seeded from the clock, as
    COLMAP does. (The photos' database ids, which the mapper's choices also follow, are fixed
    by :func:`extract_features`.) Checked from separate runs, as a user repeats a command; a
    second SfM in one long process once came out different on CI (not reproduced here: 26 runs
    in one process, on 1 to 32 threads, the other core busy or not, and 6 runs of the test file)."""


@dataclass
class SfmResult:
    names: list[str]
    """Registered photos (file names relative to the photo folder), in file order."""
    cameras: list[Camera]
    """Their undistorted pinhole cameras, COLMAP's world frame, OpenGL axes."""
    image_dir: Path
    """Folder holding the undistorted images (same names)."""
    points: np.ndarray
    """(M, 3) sparse 3D points."""
    unregistered: list[str] = field(default_factory=list)
    reprojection_px: float = float("nan")
    distorted: dict = field(default_factory=dict)
    """name -> the pycolmap camera (with its distortion) each photo was taken with, for masks."""


def camera_from_colmap(image, cam) -> Camera:
    """A relight :class:`Camera` from a pycolmap image and its PINHOLE camera."""
    if cam.model_name not in ("PINHOLE", "SIMPLE_PINHOLE"):
        raise ValueError(f"expected an undistorted pinhole camera, got {cam.model_name}")
    w2c = np.eye(4)
    w2c[:3, :4] = image.cam_from_world().matrix() if callable(image.cam_from_world) else image.cam_from_world.matrix()
    c2w = np.linalg.inv(w2c) @ OPENCV_TO_OPENGL
    return Camera(int(cam.width), int(cam.height), float(cam.focal_length_x), float(cam.focal_length_y),
                  float(cam.principal_point_x), float(cam.principal_point_y), c2w)


def read_model(model_dir: Path) -> tuple[dict[str, Camera], np.ndarray, float]:
    """Cameras by image name, points (seen by 3+ photos, reprojection error < 2 px) and mean
    reprojection error of an undistorted COLMAP model (``sparse/0``: text or binary)."""
    import pycolmap

    rec = pycolmap.Reconstruction(str(model_dir))
    cams = {img.name: camera_from_colmap(img, rec.cameras[img.camera_id]) for img in rec.images.values()
            if img.has_pose}
    pts = np.array([p.xyz for p in rec.points3D.values() if p.track.length() >= 3 and p.error < 2.0],
                   np.float64).reshape(-1, 3)
    return cams, pts, float(rec.compute_mean_reprojection_error())


def extract_features(photos: Path, names: list[str], db: Path, cfg: SfmConfig, masks: Path | None = None
                     ) -> dict[str, int]:
    """SIFT features of ``names`` into a new COLMAP database ``db``; returns the feature count
    per photo. The photos are entered first, one by one in file order, so their ids do not
    depend on which extraction thread finishes first (on 2 threads COLMAP numbered them in
    finishing order, and two seeded runs' poses then differed by up to 1.04°)."""
    import pycolmap

    db.unlink(missing_ok=True)
    pycolmap.Database.open(db).close()
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = cfg.camera_model
    if masks is not None:
        reader.mask_path = str(masks)
    mode = pycolmap.CameraMode.SINGLE if cfg.single_camera else pycolmap.CameraMode.PER_IMAGE
    pycolmap.import_images(db, photos, mode, names, reader)
    ext = pycolmap.FeatureExtractionOptions()
    ext.max_image_size = cfg.max_image_size
    ext.num_threads = cfg.num_threads
    ext.sift.max_num_features = cfg.max_features
    ext.sift.estimate_affine_shape = cfg.affine_shape
    ext.sift.domain_size_pooling = cfg.domain_size_pooling
    pycolmap.extract_features(db, photos, image_names=names, camera_mode=mode, reader_options=reader,
                              extraction_options=ext, device=pycolmap.Device.cpu)
    dbh = pycolmap.Database.open(db)
    features = {im.name: dbh.num_keypoints_for_image(im.image_id) for im in dbh.read_all_images()}
    dbh.close()
    return features


def run_sfm(photos: Path, names: list[str], work: Path, cfg: SfmConfig, masks: Path | None = None,
            log: Callable[[str], None] = print) -> SfmResult:
    """Pose ``names`` (files in ``photos``) by SfM in the scratch folder ``work``."""
    import pycolmap

    pycolmap.logging.minloglevel = 2  # COLMAP logs every image at INFO; relight reports progress itself
    if cfg.matcher not in MATCHERS:
        raise RelightError(f"unknown matcher '{cfg.matcher}'", fix=f"use one of {', '.join(MATCHERS)}")
    work.mkdir(parents=True, exist_ok=True)
    db = work / "database.db"
    log(f"poses: extracting SIFT features from {len(names)} photos")
    features = extract_features(photos, names, db, cfg, masks)
    log(f"poses: matching ({cfg.matcher}; median {int(np.median(list(features.values()) or [0]))} features per photo)")
    match = pycolmap.FeatureMatchingOptions()
    match.num_threads = cfg.num_threads
    verify = pycolmap.TwoViewGeometryOptions()
    verify.ransac.random_seed = cfg.seed
    verify.ransac.max_num_trials = cfg.max_ransac_trials
    matcher = pycolmap.match_exhaustive if cfg.matcher == "exhaustive" else pycolmap.match_sequential
    matcher(db, matching_options=match, verification_options=verify, device=pycolmap.Device.cpu)
    log("poses: incremental mapping")
    sparse = work / "sparse"
    shutil.rmtree(sparse, ignore_errors=True)
    sparse.mkdir()
    opts = pycolmap.IncrementalPipelineOptions()
    opts.num_threads = cfg.mapper_threads
    opts.random_seed = cfg.seed
    opts.mapper.filter_max_reproj_error = cfg.max_reproj_error
    opts.mapper.abs_pose_min_num_inliers = cfg.abs_pose_min_inliers
    maps = pycolmap.incremental_mapping(db, photos, sparse, options=opts)
    if not maps:
        why = diagnose(photos, names, features)
        raise RelightError("structure from motion registered no photos" + (f": {why}" if why else ""), path=photos,
                           fix="take photos with more overlap (<= 15 degrees apart), more texture and less blur")
    best = max(maps, key=lambda k: maps[k].num_reg_images())
    rec = maps[best]
    model = sparse / str(best)
    rec.write(model)
    log(f"poses: undistorting {rec.num_reg_images()} registered photos")
    und = work / "undistorted"
    shutil.rmtree(und, ignore_errors=True)
    pycolmap.undistort_images(und, model, photos)
    cams, pts, err = read_model(und / "sparse")
    reg = [n for n in names if n in cams]
    missing = [n for n in names if n not in cams]
    if len(reg) < max(3, cfg.min_registered * len(names)):
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        why = diagnose(photos, names, features)
        raise RelightError(f"structure from motion registered only {len(reg)} of {len(names)} photos "
                           f"(not: {shown})" + (f"; {why}" if why else ""), path=photos,
                           fix="add photos between those views (more overlap), more texture, sharper photos, "
                               "or masks (--masks) if the background moves with the object")
    by_name = {img.name: rec.cameras[img.camera_id] for img in rec.images.values()}
    return SfmResult(reg, [cams[n] for n in reg], und / "images", pts, missing, err,
                     {n: by_name[n] for n in reg})
