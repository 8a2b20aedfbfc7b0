"""A capture's views kept compact, decoded one view at a time.

300 photos at 2000² are 1.2 G pixels: as float32 RGB + mask (16 B a pixel) that is 18 GiB, and
the stages used to hold several copies. Instead:

* views at the capture's own resolution stay **on disk** (:class:`DiskViews`): view *i* is read
  from its files when asked for. A stage asks once per level, to make that level's images.
* the images a stage trains on are **packed** (:class:`PackedViews`): 8-bit photos as 8-bit sRGB
  straight colour + 8-bit coverage (4 B a pixel, the precision they came with: a round trip of an
  undownscaled 8-bit view is exact), everything else (EXR radiance, 16-bit PNG, exposure-
  compensated views) as half-float premultiplied linear RGB + coverage (8 B a pixel, relative
  error ≤ 2⁻¹¹; radiance above the half-float maximum 65504 is clipped there).

:class:`ViewArray` gives either store the interface of the (N, H, W, 3) / (N, H, W) float32 arrays
the stages were written for: ``a[i]`` decodes view *i*, ``a[idx]`` is a lazy subset, iteration
decodes view by view, and ``np.asarray(a)`` (or arithmetic) decodes all of them — meant for small
captures and tests, never for the training loops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from relight.data.images import SRGB8_LINEAR, linear_to_srgb, resize_area

View = tuple[np.ndarray, np.ndarray]
"""(H, W, 3) float32 linear RGB premultiplied by coverage, (H, W) float32 coverage in [0, 1]."""

HALF_MAX = 65504.0


class DiskViews:
    """Views read from their files on demand; ``load(i)`` returns a :data:`View`. The last view read
    is kept, so its image and then its mask cost one read."""

    def __init__(self, load: Callable[[int], View], n: int, height: int, width: int, eight_bit: bool):
        self.load, self.n, self.height, self.width, self.eight_bit = load, n, height, width, eight_bit
        self._last: tuple[int, View] | None = None

    def view(self, i: int) -> View:
        if self._last is None or self._last[0] != i:
            self._last = (i, self.load(i))
        return self._last[1]

    @property
    def nbytes(self) -> int:
        return 0


class PackedViews:
    """Views held in memory, packed (see the module docstring)."""

    def __init__(self, n: int, height: int, width: int, eight_bit: bool):
        self.n, self.height, self.width, self.eight_bit = n, height, width, eight_bit
        dt = np.uint8 if eight_bit else np.float16
        self.rgb = np.zeros((n, height, width, 3), dt)
        self.alpha = np.zeros((n, height, width), dt)

    def put(self, i: int, rgb: np.ndarray, alpha: np.ndarray) -> None:
        a = np.clip(alpha, 0.0, 1.0)
        if self.eight_bit:
            straight = np.where(a[..., None] > 0, rgb / np.maximum(a[..., None], 1e-12), 0.0)
            self.rgb[i] = np.round(linear_to_srgb(straight) * 255.0)
            self.alpha[i] = np.round(a * 255.0)
        else:
            self.rgb[i] = np.minimum(rgb, HALF_MAX)
            self.alpha[i] = a

    def view(self, i: int) -> View:
        if self.eight_bit:
            a = self.alpha[i].astype(np.float32) / np.float32(255.0)
            return SRGB8_LINEAR[self.rgb[i]] * a[..., None], a
        return self.rgb[i].astype(np.float32), self.alpha[i].astype(np.float32)

    @property
    def nbytes(self) -> int:
        return self.rgb.nbytes + self.alpha.nbytes


Store = DiskViews | PackedViews


class ViewArray(NDArrayOperatorsMixin):
    """Read-only stand-in for a capture's (N, H, W, 3) images (``part="rgb"``) or (N, H, W) masks
    (``part="mask"``) over a store; ``gains`` (N, 3) multiply each view's RGB (exposure
    compensation), ``index`` maps this array's views to the store's."""

    dtype = np.dtype(np.float32)

    def __init__(self, store: Store, part: str, index: np.ndarray | None = None, gains: np.ndarray | None = None):
        self.store, self.part = store, part
        self.index = np.arange(store.n) if index is None else np.asarray(index, dtype=np.int64)
        self.gains = gains

    # -- the array interface the stages use -------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        s = (len(self.index), self.store.height, self.store.width)
        return s + (3,) if self.part == "rgb" else s

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return len(self.index)

    def view(self, k: int) -> View:
        """View ``k`` of this array: (premultiplied RGB with its gains, coverage), float32."""
        rgb, a = self.store.view(int(self.index[k]))
        if self.gains is not None:
            rgb = rgb * self.gains[k].astype(np.float32)
        return rgb, a

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return self[key[0]][key[1:]] if isinstance(key[0], (int, np.integer)) else np.asarray(self)[key]
        if isinstance(key, (int, np.integer)):
            k = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= k < len(self):
                raise IndexError(f"view {key} out of range for {len(self)} views")
            return self.view(k)[0 if self.part == "rgb" else 1]
        k = np.asarray(key) if not isinstance(key, slice) else None
        if k is not None and (k.ndim != 1 or k.dtype == bool):  # a pixel mask etc.: on the decoded array
            return np.asarray(self)[key]
        sel = np.arange(len(self))[key]
        return ViewArray(self.store, self.part, self.index[sel], None if self.gains is None else self.gains[sel])

    def __iter__(self) -> Iterator[np.ndarray]:
        for k in range(len(self)):
            yield self[k]

    def __array__(self, dtype=None, copy=None):
        out = np.empty(self.shape, np.float32)
        for k in range(len(self)):
            out[k] = self[k]
        return out if dtype is None else out.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(np.asarray(x) if isinstance(x, ViewArray) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def mean(self, *a, **k):
        return np.asarray(self).mean(*a, **k)

    def sum(self, *a, **k):
        return np.asarray(self).sum(*a, **k)

    def max(self, *a, **k):
        return np.asarray(self).max(*a, **k)

    def min(self, *a, **k):
        return np.asarray(self).min(*a, **k)

    def copy(self) -> np.ndarray:
        return np.asarray(self)

    def astype(self, dtype, **k) -> np.ndarray:
        return np.asarray(self).astype(dtype)

    # -- compact operations -----------------------------------------------------------------
    @property
    def eight_bit(self) -> bool:
        """Whether packing keeps 8 bits: 8-bit sources without gains."""
        return self.store.eight_bit and self.gains is None

    def with_gains(self, gains: np.ndarray) -> ViewArray:
        """The same views with each one's RGB multiplied by ``gains`` (N, 3) (on top of any)."""
        g = np.asarray(gains, np.float32).reshape(len(self), 3)
        return ViewArray(self.store, self.part, self.index, g if self.gains is None else self.gains * g)


def views_of(store: Store) -> tuple[ViewArray, ViewArray]:
    """(images, masks) over ``store``."""
    return ViewArray(store, "rgb"), ViewArray(store, "mask")


def pack_resized(images: ViewArray, height: int, width: int, crop: tuple[int, int] | None = None,
                 eight_bit: bool | None = None) -> tuple[ViewArray, ViewArray]:
    """(images, masks) of ``images``' views area-resized to ``height`` x ``width`` (after cropping
    each to ``crop`` = (h, w) when given) and packed, decoding one view at a time."""
    store = PackedViews(len(images), height, width, images.eight_bit if eight_bit is None else eight_bit)
    for k in range(len(images)):
        rgb, a = images.view(k)
        if crop is not None:
            rgb, a = rgb[: crop[0], : crop[1]], a[: crop[0], : crop[1]]
        if rgb.shape[:2] != (height, width):
            rgb, a = resize_area(rgb, height, width), resize_area(a[..., None], height, width)[..., 0]
        store.put(k, rgb, a)
    return views_of(store)
