"""`relight poses`: LLFF and COLMAP-model imports recover the cameras exactly (up to the documented
similarity), the world frame is object-centred and +y up, SfM poses real photos (../shared), and
bad photo folders get one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli.main import main
from relight.capture.frame import (
    CAMERA_DISTANCE,
    look_at_point,
    normalize_frame,
    rotation_angle_deg,
    rotation_errors_deg,
)
from relight.capture.llff import read_llff
from relight.data.camera import Camera, orbit_cameras
from relight.data.capture_io import load_capture
from relight.runtime.paths import read_json

SHARED_HEAD = Path(__file__).resolve().parents[2] / "shared/data/datasets/ethiopian_head_real"


def random_similarity(seed: int) -> tuple[np.ndarray, float, np.ndarray]:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q)), float(rng.uniform(0.1, 10)), rng.normal(size=3) * 5


def moved(cams: list[Camera], seed: int) -> list[Camera]:
    """``cams`` in another similarity frame (what SfM or LLFF hands back)."""
    from dataclasses import replace

    r, s, t = random_similarity(seed)
    out = []
    for c in cams:
        m = c.c2w.copy()
        m[:3, :3] = r @ m[:3, :3]
        m[:3, 3] = s * r @ m[:3, 3] + t
        out.append(replace(c, c2w=m))
    return out


@pytest.fixture(scope="module")
def ring() -> list[Camera]:
    return orbit_cameras(12, 3.0, 40.0, 40, 30, hemisphere=True, target=(0.0, 0.0, 0.0))


def test_normalize_frame_undoes_any_similarity(ring):
    """Whatever frame the poses come in, the normalized cameras are the same: the look-at point at
    the origin, the mean camera up along +y, median distance 3.2, the first camera on +z."""
    base, _ = normalize_frame(ring)
    for seed in range(3):
        norm, sim = normalize_frame(moved(ring, seed))
        for a, b in zip(norm, base, strict=True):
            np.testing.assert_allclose(a.c2w, b.c2w, atol=1e-9)
    c2ws = np.stack([c.c2w for c in base])
    np.testing.assert_allclose(look_at_point(c2ws), 0, atol=1e-9)
    up = c2ws[:, :3, 1].mean(0)
    np.testing.assert_allclose(up / np.linalg.norm(up), [0, 1, 0], atol=1e-9)
    assert abs(np.median(np.linalg.norm(c2ws[:, :3, 3], axis=1)) - CAMERA_DISTANCE) < 1e-9
    assert abs(c2ws[0, 0, 3]) < 1e-9 and c2ws[0, 2, 3] > 0


def test_pose_errors_are_zero_for_a_similar_set_and_see_a_perturbation(ring):
    rot, centre = rotation_errors_deg(moved(ring, 5), ring)
    assert rot.max() < 1e-6 and centre.max() < 1e-9
    bad = moved(ring, 5)
    from dataclasses import replace

    m = bad[3].c2w.copy()
    a = np.radians(2.0)
    m[:3, :3] = m[:3, :3] @ np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    bad[3] = replace(bad[3], c2w=m)
    rot, _ = rotation_errors_deg(bad, ring)
    assert abs(rot[3] - 2.0) < 1e-6 and np.delete(rot, 3).max() < 1e-6


def _photos(folder: Path, cams: list[Camera], names: list[str]) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for c, n in zip(cams, names, strict=True):
        Image.fromarray(rng.integers(0, 255, (c.height, c.width, 3), dtype=np.uint8)).save(folder / n)


def _check_capture(out: Path, truth: list[Camera]) -> None:
    cap = load_capture(out)
    rot, centre = rotation_errors_deg(cap.cameras, truth)
    assert rot.max() < 1e-4 and centre.max() < 1e-6
    for a, b in zip(cap.cameras, truth, strict=True):
        assert (a.width, a.height) == (b.width, b.height) and abs(a.fx - b.fx) < 1e-6 and abs(a.cx - b.cx) < 1e-6
    info = read_json(out / "poses.json")
    assert info["registered"] == len(truth) and not info["unregistered"]


def test_llff_folder_becomes_a_capture(ring, tmp_path):
    src = tmp_path / "llff"
    names = [f"IMG_{i:03d}.png" for i in range(len(ring))]
    _photos(src / "images", ring, names)
    (src / "masks").mkdir()
    for n in names:
        Image.fromarray(np.full((30, 40), 255, np.uint8)).save(src / "masks" / n)
    rows = []
    for c in moved(ring, 1):  # LLFF columns: [down, right, backwards] + (H, W, focal); near/far
        m = c.c2w
        pose = np.stack([-m[:3, 1], m[:3, 0], m[:3, 2], m[:3, 3], [c.height, c.width, c.fx]], 1)
        rows.append(np.concatenate([pose.ravel(), [0.5, 9.0]]))
    np.save(src / "poses_bounds.npy", np.array(rows))
    imgs, cams = read_llff(src)
    assert [p.name for p in imgs] == names
    with pytest.raises(SystemExit) as e:
        main(["poses", str(src), "-o", str(tmp_path / "cap"), "-q"])
    assert e.value.code == 0
    _check_capture(tmp_path / "cap", ring)
    assert load_capture(tmp_path / "cap").has_masks


def test_colmap_model_import(ring, tmp_path):
    import pycolmap

    names = [f"p{i:02d}.png" for i in range(len(ring))]  # file order = ring order
    _photos(tmp_path / "photos", ring, names)
    rec = pycolmap.Reconstruction()
    c = ring[0]
    rec.add_camera_with_trivial_rig(pycolmap.Camera(model="PINHOLE", width=c.width, height=c.height,
                                                    params=[c.fx, c.fy, c.cx, c.cy], camera_id=1))
    for i, cam in enumerate(moved(ring, 2)):
        w2c = np.linalg.inv(cam.c2w @ np.diag([1, -1, -1, 1]))  # OpenGL c2w -> COLMAP's OpenCV w2c
        rec.add_image_with_trivial_frame(pycolmap.Image(name=names[i], camera_id=1, image_id=i + 1),
                                         pycolmap.Rigid3d(pycolmap.Rotation3d(w2c[:3, :3]), w2c[:3, 3]))
    (tmp_path / "sparse").mkdir()
    rec.write_text(str(tmp_path / "sparse"))
    with pytest.raises(SystemExit) as e:
        main(["poses", str(tmp_path / "photos"), "--colmap-model", str(tmp_path / "sparse"),
              "-o", str(tmp_path / "cap"), "-q"])
    assert e.value.code == 0
    _check_capture(tmp_path / "cap", ring)


@pytest.mark.parametrize("case, msg", [("empty", "0 photo"), ("two", "2 photo"), ("text", "not JPEG/PNG"),
                                       ("llff-count", "poses but")])
def test_bad_photo_folders(case, msg, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    img = Image.fromarray(np.zeros((8, 8, 3), np.uint8))
    if case == "two":
        img.save(src / "a.png")
        img.save(src / "b.png")
    if case == "text":
        for n in "abc":
            img.save(src / f"{n}.jpg")
        (src / "notes.txt").write_text("hi")
    if case == "llff-count":
        (src / "images").mkdir()
        img.save(src / "images/a.png")
        np.save(src / "poses_bounds.npy", np.zeros((2, 17)))
    before = sorted(p.relative_to(src) for p in src.rglob("*"))
    with pytest.raises(SystemExit) as e:
        main(["poses", str(src), "-o", str(tmp_path / "cap"), "-q"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and msg in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "cap").exists() and sorted(p.relative_to(src) for p in src.rglob("*")) == before


@pytest.mark.shared
@pytest.mark.skipif(not SHARED_HEAD.is_dir(), reason="needs ../shared/data/datasets/ethiopian_head_real")
def test_sfm_poses_real_photos_like_their_published_poses(tmp_path):
    """pycolmap SfM on 12 consecutive real turntable photos (masks keep the still room out)
    registers them all, with rotations within 2 degrees of the dataset's own poses, and the same
    poses again on a second run."""
    names = sorted(p.name for p in (SHARED_HEAD / "images").iterdir())[:12]
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    for n in names:
        (photos / n).symlink_to(SHARED_HEAD / "images" / n)
        (masks / n.replace(".jpg", ".png")).symlink_to(SHARED_HEAD / "masks" / n.replace(".jpg", ".png"))
    with pytest.raises(SystemExit) as e:
        main(["poses", str(photos), "--masks", str(masks), "--max-image-size", "640", "-o", str(tmp_path / "cap"), "-q"])
    assert e.value.code == 0
    cap = load_capture(tmp_path / "cap")
    assert len(cap) == len(names) and cap.has_masks
    _, llff = read_llff(SHARED_HEAD)
    rot, centre = rotation_errors_deg(cap.cameras, llff[:12])
    assert np.median(rot) < 2.0, rot
    # seeded RANSAC and mapper: a second `relight poses`, a new process as a user's second run is,
    # gives the same poses. (CI once saw a second run *in the same process* differ, after ~300 other
    # tests: magnitude not recorded; not reproduced here in 30 runs.) Compared directly, the frame
    # being the command's own: rotation to 0.001 deg and centre to 1e-5 of the camera distance, far
    # below SfM's own error (~0.1 deg) and far above rounding.
    subprocess.run([sys.executable, "-c", "from cli.main import main; main()", "poses", str(photos), "--masks",
                    str(masks), "--max-image-size", "640", "-o", str(tmp_path / "again"), "-q"],
                   cwd=Path(__file__).resolve().parents[1], check=True)
    again = load_capture(tmp_path / "again")
    dist = np.median([np.linalg.norm(c.c2w[:3, 3]) for c in cap.cameras])
    d_rot = [rotation_angle_deg(a.c2w[:3, :3], b.c2w[:3, :3]) for a, b in zip(cap.cameras, again.cameras, strict=True)]
    d_pos = [np.linalg.norm(a.c2w[:3, 3] - b.c2w[:3, 3]) / dist for a, b in zip(cap.cameras, again.cameras, strict=True)]
    assert max(d_rot) < 1e-3 and max(d_pos) < 1e-5, (max(d_rot), max(d_pos))


def _noise_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """(size, size, 3) uint8: blobs at three scales, what SIFT finds on real surfaces."""
    import cv2

    tex = np.zeros((size, size, 3), np.float32)
    for cells, weight in ((8, 0.5), (32, 0.3), (128, 0.2)):
        tex += weight * cv2.resize(rng.uniform(0, 1, (cells, cells, 3)).astype(np.float32), (size, size),
                                   interpolation=cv2.INTER_CUBIC)
    return (np.clip(tex, 0, 1) * 255).astype(np.uint8)


def _textured_box_photos(folder: Path, cams: list[Camera], seed: int = 0) -> None:
    """Pinhole photos of a unit cube (every face its own noise texture) on a textured 3 x 3
    floor, drawn by exact homographies (painter's order: floor, then the faces turned to the
    camera, which cannot overlap on a convex box)."""
    import cv2

    rng = np.random.default_rng(seed)
    h = 0.5
    quads = [np.array([[-1.5, -h, -1.5], [1.5, -h, -1.5], [1.5, -h, 1.5], [-1.5, -h, 1.5]])]  # floor, seen from above
    for axis in range(3):
        for sign in (-1.0, 1.0):
            u, v = [np.eye(3)[k] for k in range(3) if k != axis]
            if sign * np.cross(u, v)[axis] < 0:
                u, v = v, u  # counter-clockwise seen from outside: normal = u x v points out
            c = sign * h * np.eye(3)[axis]
            quads.append(np.array([c - h * u - h * v, c + h * u - h * v, c + h * u + h * v, c - h * u + h * v]))
    textures = [_noise_texture(rng) for _ in quads]
    for i, cam in enumerate(cams):
        img = np.full((cam.height, cam.width, 3), 128, np.uint8)
        eye = cam.c2w[:3, 3]
        for k, (q, tex) in enumerate(zip(quads, textures, strict=True)):
            normal = np.cross(q[1] - q[0], q[3] - q[0])
            if k and normal @ (eye - q[0]) <= 0:
                continue  # a face turned away
            uv, depth = cam.project(q)
            if (depth <= 0.05).any():
                continue
            t = tex.shape[0] - 0.5
            src = np.float32([[-0.5, -0.5], [t, -0.5], [t, t], [-0.5, t]])
            hom = cv2.getPerspectiveTransform(src, np.float32(uv - 0.5))
            warped = cv2.warpPerspective(tex, hom, (cam.width, cam.height), flags=cv2.INTER_LINEAR)
            cover = cv2.warpPerspective(np.full(tex.shape[:2], 255, np.uint8), hom, (cam.width, cam.height),
                                        flags=cv2.INTER_NEAREST)
            img[cover > 0] = warped[cover > 0]
        Image.fromarray(img).save(folder / f"p{i:02d}.png")


def test_sfm_recovers_known_poses_of_a_textured_box(tmp_path):
    """SfM on 16 exact pinhole photos of a textured box on a textured floor (no ../shared needed)
    registers them all and recovers the true poses up to a similarity, within a fifth of the
    issue's targets (0.5 degrees, 1 % of the camera distance). Measured: 0.046 degrees, 0.07 %."""
    cams = orbit_cameras(16, 3.0, 50.0, 400, 300, hemisphere=True, target=(0.0, 0.0, 0.0), min_elevation_deg=25)
    src = tmp_path / "photos"
    src.mkdir()
    _textured_box_photos(src, cams)
    with pytest.raises(SystemExit) as e:
        main(["poses", str(src), "-o", str(tmp_path / "cap"), "-q"])
    assert e.value.code == 0
    cap = load_capture(tmp_path / "cap", load_gt=False)
    assert len(cap) == len(cams)
    truth = dict(zip([f"p{i:02d}" for i in range(len(cams))], cams, strict=True))
    rot, centre = rotation_errors_deg(cap.cameras, [truth[n] for n in cap.names])
    print(f"rotation max {rot.max():.3f} deg, centre max {centre.max():.4f}")
    assert rot.max() < 0.1 and centre.max() < 0.002, (rot, centre)


def test_feature_extraction_numbers_photos_in_file_order_on_any_thread_count(tmp_path):
    """The mapper's choices follow the photos' database ids: on 2 threads they must still be
    the file order, with the same features as on one thread."""
    import pycolmap

    from relight.capture.sfm import SfmConfig, extract_features

    cams = orbit_cameras(6, 3.0, 50.0, 200, 150, hemisphere=True, target=(0.0, 0.0, 0.0), min_elevation_deg=25)
    src = tmp_path / "photos"
    src.mkdir()
    _textured_box_photos(src, cams)
    names = sorted(p.name for p in src.iterdir())
    keys = []
    for threads in (2, 1):
        db = tmp_path / f"t{threads}.db"
        counts = extract_features(src, names, db, SfmConfig(num_threads=threads))
        assert sorted(counts) == names and min(counts.values()) > 50
        d = pycolmap.Database.open(db)
        images = sorted(d.read_all_images(), key=lambda im: im.image_id)
        assert [im.name for im in images] == names
        keys.append([d.read_keypoints(im.image_id) for im in images])
        d.close()
    assert all(np.array_equal(a, b) for a, b in zip(*keys, strict=True))


def _correct_matches(photos: Path, db: Path, cfg, homography: np.ndarray) -> int:
    """SIFT matches (ratio test 0.8) between ``a.png`` and ``b.png`` that ``homography`` (a -> b)
    confirms to 3 px."""
    import cv2
    import pycolmap

    from relight.capture.sfm import extract_features

    extract_features(photos, ["a.png", "b.png"], db, cfg)
    d = pycolmap.Database.open(db)
    ims = sorted(d.read_all_images(), key=lambda im: im.image_id)
    kp = [np.asarray(d.read_keypoints(im.image_id))[:, :2] for im in ims]
    de = [np.asarray(d.read_descriptors(im.image_id).data, np.float32) for im in ims]
    d.close()
    good = [a for a, b in cv2.BFMatcher(cv2.NORM_L2).knnMatch(de[0], de[1], k=2) if a.distance < 0.8 * b.distance]
    pa = kp[0][[g.queryIdx for g in good]].astype(np.float64)
    pb = kp[1][[g.trainIdx for g in good]]
    return int((np.linalg.norm(cv2.perspectiveTransform(pa[None], homography)[0] - pb, axis=1) < 3).sum())


def test_affine_sift_matches_a_floor_seen_at_a_grazing_angle(tmp_path):
    """The same textured plane from above and from a low camera (foreshortened 4x, ~75° from its
    normal): plain SIFT's circular patches find too few true matches to register the low view
    (COLMAP wants 30 inliers; measured 13), affine-shape SIFT (the default) several times more
    (measured 357). This is why the blob photo set's 5 lowest views now register."""
    import cv2

    from relight.capture.sfm import SfmConfig

    n, rng = 512, np.random.default_rng(0)
    tex = sum(cv2.resize(rng.random((n // s + 1, n // s + 1)).astype(np.float32), (n, n),
                         interpolation=cv2.INTER_CUBIC) / s**0.3 for s in (8, 16, 32, 64))
    tex = (255 * (tex - tex.min()) / (tex.max() - tex.min())).astype(np.uint8)
    corners = np.float32([[0, 0], [n, 0], [n, n], [0, n]])
    low = np.float32([[0.3 * n, 3 * n / 8], [0.7 * n, 3 * n / 8], [n, 5 * n / 8], [0, 5 * n / 8]])
    hom = cv2.getPerspectiveTransform(corners, low)
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, img in (("a.png", tex), ("b.png", cv2.warpPerspective(tex, hom, (n, n), borderValue=128))):
        Image.fromarray(np.repeat(img[..., None], 3, axis=2)).save(photos / name)
    assert SfmConfig().affine_shape
    plain = _correct_matches(photos, tmp_path / "plain.db", SfmConfig(affine_shape=False, num_threads=1), hom)
    affine = _correct_matches(photos, tmp_path / "affine.db", SfmConfig(num_threads=1), hom)
    print(f"true matches: plain {plain}, affine {affine}")
    assert plain < 30 and affine >= 150, (plain, affine)
