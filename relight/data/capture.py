"""The :class:`Capture`: posed images of one object, the input of every fitting stage."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from relight.data.camera import Camera
from relight.data.images import resize_area
from relight.data.views import PackedViews, ViewArray, pack_resized


@dataclass(frozen=True)
class GroundTruth:
    """Per-view ground-truth AOVs of a synthetic capture (row 0 = top, zero outside the object).

    Attributes:
        albedo: (N, H, W, 3) linear base colour, sampled at pixel centres.
        roughness: (N, H, W) principled-BSDF roughness in [0, 1].
        normals: (N, H, W, 3) world-space unit shading normals.
        metallic: (N, H, W) principled-BSDF metallic in [0, 1] (scenes with a metallic texture).
        mask: (N, H, W) anti-aliased coverage in [0, 1].
    """

    albedo: np.ndarray | None = None
    roughness: np.ndarray | None = None
    normals: np.ndarray | None = None
    mask: np.ndarray | None = None
    metallic: np.ndarray | None = None


@dataclass(frozen=True)
class RelitViews:
    """The capture's views re-rendered under another environment map (relighting GT).

    Attributes:
        envmap: path of the linear equirect map used (``relight.data.images.ENVMAP_PROJECTION``).
        rotation_deg: rotation of that map about world +y, degrees.
        images: (N, H, W, 3) linear RGB premultiplied by coverage.
    """

    envmap: Path
    rotation_deg: float
    images: np.ndarray


LIGHT_FRAMES = ("world", "rig")


def rig_turns_deg(cameras: list[Camera]) -> np.ndarray:
    """Each camera's azimuth about +y, ``atan2(x, z)`` of its centre, in degrees: how far a
    turntable has turned the object (and so the rig's light, seen from the object) for that view."""
    c = np.stack([cam.center for cam in cameras])
    return np.degrees(np.arctan2(c[:, 0], c[:, 2]))


@dataclass(frozen=True)
class Capture:
    """Posed views of an object.

    Attributes:
        cameras: one :class:`~relight.data.camera.Camera` per view (OpenGL axes).
        images: (N, H, W, 3) float32 **linear** RGB, premultiplied by the mask (object over
            black). From 8-bit PNGs the sRGB curve has been removed. A capture read from disk
            holds a :class:`~relight.data.views.ViewArray` instead: the same interface, views
            decoded one at a time (never all in memory; :mod:`relight.data.views`).
        masks: (N, H, W) float32 object coverage in [0, 1] (all ones if the capture has none);
            a :class:`~relight.data.views.ViewArray` alongside ``images``.
        names: a short name per view (file stem).
        root: the folder the capture was read from (None when built in memory).
        hdr: True when images came from linear EXR (radiance), False for 8-bit LDR.
        has_masks: False when the source had neither alpha nor mask files.
        gt: optional ground-truth AOVs (synthetic test splits).
        relit: optional relighting ground truth, keyed by environment-map name.
        max_depth: path length of the renderer that made the views (``relight synth`` records
            it); evaluation renders at the same depth. None for photographs.
        reference_spp: samples per pixel of the renders that the views of a synthetic test split
            are (``relight synth``'s ``test_spp``, times ``d²`` when area-downscaled by ``d``: a
            downscaled pixel averages ``d²`` pixels' samples); it sizes the references' noise for
            :func:`relight.evaluation.metrics.noise_free_mse`. None for photographs and train splits.
        light_turns_deg: the **light frame**. None (``world``): the light is fixed to the object's
            world, every view sees the same envmap. A turntable capture (``rig``): the light is
            fixed to the camera rig while the object turns, so view *i* sees the envmap turned
            about +y by its camera's azimuth ``atan2(x, z)`` in degrees (N,); the fitted envmap
            is then the light as seen with the camera at azimuth 0 (+z).
    """

    cameras: list[Camera]
    images: np.ndarray | ViewArray
    masks: np.ndarray | ViewArray
    names: list[str]
    root: Path | None = None
    hdr: bool = True
    has_masks: bool = True
    gt: GroundTruth | None = None
    relit: dict[str, RelitViews] = field(default_factory=dict)
    max_depth: int | None = None
    reference_spp: int | None = None
    light_turns_deg: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.cameras)
        if self.images.shape[0] != n or self.masks.shape[0] != n or len(self.names) != n:
            raise ValueError("Capture: cameras, images, masks and names must have the same length")
        if self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise ValueError(f"Capture.images must be (N, H, W, 3), got {self.images.shape}")

    def __len__(self) -> int:
        return len(self.cameras)

    def view_gain_mode(self, requested: str) -> str:
        """The per-view gain mode a stage's ``view_gains`` setting ``requested`` (``auto``, ``off``,
        ``exposure``, ``exposure_wb``) comes to on this capture: ``auto`` is ``exposure_wb`` for 8-bit
        photos (auto-exposure and white balance vary by shot) and ``off`` for linear HDR captures."""
        if requested != "auto":
            return requested
        return "off" if self.hdr else "exposure_wb"

    @property
    def resolution(self) -> tuple[int, int]:
        """(height, width) of every view."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    def downscaled(self, factor: int) -> Capture:
        """Images, masks and cameras at the resolution divided by ``factor`` (area average, the
        image cropped to a multiple of ``factor``); GT, relit views and their ``reference_spp``
        are dropped. Views on disk come back packed in memory
        (:func:`relight.data.views.pack_resized`), also at ``factor`` 1: the result is what a
        stage trains on."""
        h, w = self.resolution
        hs, ws = max(1, h // factor), max(1, w // factor)
        drop = {"gt": None, "relit": {}, "reference_spp": None}  # evaluation data: not trained on
        if isinstance(self.images, ViewArray):
            if factor == 1 and isinstance(self.images.store, PackedViews):
                return replace(self, **drop)
            imgs, masks = pack_resized(self.images, hs, ws, crop=(hs * factor, ws * factor))
            return replace(self, cameras=[c.downscaled(factor) for c in self.cameras], images=imgs, masks=masks,
                           **drop)
        if factor == 1:
            return replace(self, **drop)
        imgs = np.stack([resize_area(im[: hs * factor, : ws * factor], hs, ws) for im in self.images])
        masks = np.stack([resize_area(m[: hs * factor, : ws * factor, None], hs, ws)[..., 0] for m in self.masks])
        return replace(self, cameras=[c.downscaled(factor) for c in self.cameras], images=imgs, masks=masks,
                       **drop)

    def subset(self, idx) -> Capture:
        """The views at indices ``idx`` (GT and relit views follow)."""
        idx = np.asarray(idx, dtype=np.int64)
        gt = None
        if self.gt is not None:
            gt = GroundTruth(**{k: (None if v is None else v[idx]) for k, v in vars(self.gt).items()})
        relit = {k: replace(r, images=r.images[idx]) for k, r in self.relit.items()}
        turns = None if self.light_turns_deg is None else self.light_turns_deg[idx]
        return replace(self, cameras=[self.cameras[i] for i in idx], images=self.images[idx],
                       masks=self.masks[idx], names=[self.names[i] for i in idx], gt=gt, relit=relit,
                       light_turns_deg=turns)

    def light_deg(self, base: float = 0.0) -> list[float] | None:
        """Per-view envmap turn (degrees about +y) of an asset whose own turn is ``base``: None
        in the world light frame (the scene's turn applies), else ``base`` + each view's turn."""
        if self.light_turns_deg is None:
            return None
        return [base + float(t) for t in self.light_turns_deg]
