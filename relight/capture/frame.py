"""The world frame of a posed capture: object at the origin, +y up, a known scale.

SfM (or any pose source) gives cameras in an arbitrary similarity frame. relight's stages, the
envmap layout and the exports assume +y up with the object near the origin at about unit size
(the built-in scenes: cameras ~3.2 units away). :func:`normalize_frame` finds a similarity
``x -> s R (x - c)`` from the cameras alone:

* **up** = the mean of the cameras' up vectors (photographers hold the camera level; on a
  turntable or an orbit every camera's up is the world's up) — flipped to +y;
* **centre** = the point closest, in least squares, to all optical axes (the point every photo
  looks at: the object in an object-centric capture);
* **scale** so the median camera distance to that centre is :data:`CAMERA_DISTANCE`;
* **azimuth**: the first camera looks from +z (a stable, documented choice).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from relight.data.camera import Camera
from relight.runtime.errors import RelightError

CAMERA_DISTANCE = 3.2
"""Median camera-to-object distance after normalization (the built-in scenes' orbit radius)."""


def look_at_point(c2ws: np.ndarray) -> np.ndarray:
    """(3,) least-squares closest point to the optical axes (OpenGL: each camera looks along -z)."""
    a, b = np.zeros((3, 3)), np.zeros(3)
    for m in c2ws:
        d = -m[:3, 2] / np.linalg.norm(m[:3, 2])
        p = np.eye(3) - np.outer(d, d)
        a += p
        b += p @ m[:3, 3]
    if np.linalg.cond(a) > 1e8:  # all axes parallel: no common point
        raise RelightError("the cameras do not look at a common point (all parallel)",
                           fix="photograph the object from around it, not from one direction")
    return np.linalg.solve(a, b)


def _rotation_to(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) taking unit vector ``u`` to unit vector ``v`` (Rodrigues)."""
    w = np.cross(u, v)
    c = float(np.dot(u, v))
    if c < -1 + 1e-12:  # opposite: turn by pi about any axis orthogonal to u
        axis = np.cross(u, [1.0, 0, 0] if abs(u[0]) < 0.9 else [0, 1.0, 0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def normalize_frame(cameras: list[Camera], distance: float = CAMERA_DISTANCE) -> tuple[list[Camera], np.ndarray]:
    """Cameras in the normalized frame and the 4x4 similarity applied (world -> normalized)."""
    c2ws = np.stack([c.c2w for c in cameras])
    up = c2ws[:, :3, 1].mean(0)
    if np.linalg.norm(up) < 1e-3:
        raise RelightError("the cameras' up vectors cancel out: cannot tell which way is up",
                           fix="photograph with the camera held level (rotated views are fine)")
    rot = _rotation_to(up / np.linalg.norm(up), np.array([0.0, 1.0, 0.0]))
    centre = look_at_point(c2ws)
    first = rot @ (c2ws[0, :3, 3] - centre)  # turn about +y so the first camera sits at +z
    az = np.arctan2(first[0], first[2])
    ca, sa = np.cos(-az), np.sin(-az)
    rot = np.array([[ca, 0, sa], [0, 1, 0], [-sa, 0, ca]]) @ rot
    dist = np.median(np.linalg.norm(c2ws[:, :3, 3] - centre, axis=1))
    s = distance / max(float(dist), 1e-12)
    sim = np.eye(4)
    sim[:3, :3] = s * rot
    sim[:3, 3] = -s * rot @ centre
    out = []
    for cam in cameras:
        m = cam.c2w.copy()
        m[:3, :3] = rot @ m[:3, :3]
        m[:3, 3] = s * rot @ (m[:3, 3] - centre)
        out.append(replace(cam, c2w=m))
    return out, sim


def align_similarity(a: list[Camera], b: list[Camera]) -> np.ndarray:
    """The 4x4 similarity ``x -> s R x + t`` taking the frame of cameras ``a`` to that of the same
    cameras ``b`` (Umeyama on the camera centres)."""
    pa = np.stack([c.c2w[:3, 3] for c in a])
    pb = np.stack([c.c2w[:3, 3] for c in b])
    ma, mb = pa.mean(0), pb.mean(0)
    xa, xb = pa - ma, pb - mb
    u, sig, vt = np.linalg.svd(xb.T @ xa / len(pa))
    d = np.sign(np.linalg.det(u @ vt))
    r = u @ np.diag([1, 1, d]) @ vt
    s = (sig * [1, 1, d]).sum() / (xa ** 2).sum() * len(pa)
    sim = np.eye(4)
    sim[:3, :3], sim[:3, 3] = s * r, mb - s * r @ ma
    return sim


def rotation_angle_deg(ra: np.ndarray, rb: np.ndarray) -> float:
    """Angle (degrees) of the rotation between the 3 x 3 rotations ``ra`` and ``rb``."""
    # ||R - I||_F = 2 sqrt(2) sin(angle / 2): exact near 0, where arccos((tr R - 1) / 2) loses
    # half the digits (an exact similarity measured 1.7e-6° on one machine, 0 on another)
    return float(np.degrees(2 * np.arcsin(min(1.0, np.linalg.norm(ra.T @ rb - np.eye(3)) / (2 * np.sqrt(2))))))


def rotation_errors_deg(a: list[Camera], b: list[Camera]) -> tuple[np.ndarray, np.ndarray]:
    """Per-camera rotation error (degrees) and centre error (fraction of the median distance to
    the look-at point) of ``a`` against ``b`` after the best similarity alignment
    (:func:`align_similarity`, rotations then compared directly)."""
    sim = align_similarity(a, b)
    s = float(np.cbrt(np.linalg.det(sim[:3, :3])))
    r = sim[:3, :3] / s
    pa = np.stack([c.c2w[:3, 3] for c in a])
    pb = np.stack([c.c2w[:3, 3] for c in b])
    aligned = pa @ sim[:3, :3].T + sim[:3, 3]
    rot_err = []
    for ca, cb in zip(a, b, strict=True):
        rot_err.append(rotation_angle_deg(r @ ca.c2w[:3, :3], cb.c2w[:3, :3]))
    scale = np.median(np.linalg.norm(pb - look_at_point(np.stack([c.c2w for c in b])), axis=1))
    return np.array(rot_err), np.linalg.norm(aligned - pb, axis=1) / scale
