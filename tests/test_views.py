"""Compact views (relight/data/views.py): captures read from disk view by view, training levels
packed, and what that costs in precision and memory."""

import tracemalloc

import numpy as np
import pytest
import torch

from relight.data.capture_io import load_capture
from relight.data.images import linear_to_srgb, resize_area
from relight.data.views import HALF_MAX, DiskViews, PackedViews, ViewArray, pack_resized, views_of
from tests.test_capture_io import make_nerfstudio


def _soft_masks(root, n, h, w):
    """Replace make_nerfstudio's masks with anti-aliased ones (partial coverage at the edges)."""
    from relight.data.images import write_png

    yy, xx = np.mgrid[:h, :w]
    for i in range(n):
        d = np.hypot(yy - h / 2, xx - w / 2) - (4 + i)
        write_png(root / f"masks/f{i}.png", np.clip(0.5 - d, 0, 1))


def test_capture_is_read_from_disk_view_by_view(tmp_path):
    """Loading keeps no pixels: the traced allocations stay near one view, not the whole set."""
    n, h, w = 48, 96, 128
    make_nerfstudio(tmp_path, n=n, w=w, h=h)
    tracemalloc.start()
    cap = load_capture(tmp_path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    one_view = h * w * 4 * 4  # float32 RGB + mask
    assert isinstance(cap.images, ViewArray) and isinstance(cap.images.store, DiskViews)
    assert peak < 8 * one_view and 8 * one_view < n * one_view / 5, peak
    assert cap.images.shape == (n, h, w, 3) and cap.masks.shape == (n, h, w) and len(cap.images) == n
    whole = np.asarray(cap.images)  # the array interface still gives all views when asked
    assert whole.shape == (n, h, w, 3) and whole.dtype == np.float32
    np.testing.assert_array_equal(whole[5], cap.images[5])
    np.testing.assert_array_equal(cap.subset([2, 7]).images[1], cap.images[7])
    assert cap.images[3, 10, 20].shape == (3,)


def test_8bit_views_pack_losslessly_at_full_resolution(tmp_path):
    make_nerfstudio(tmp_path, n=3, w=40, h=32)
    _soft_masks(tmp_path, 3, 32, 40)
    cap = load_capture(tmp_path)
    assert cap.images.eight_bit
    packed = cap.downscaled(1)
    assert isinstance(packed.images.store, PackedViews) and packed.images.store.rgb.dtype == np.uint8
    assert packed.images.store.nbytes == 3 * 32 * 40 * 4  # 4 B a pixel
    for i in range(3):  # exact: the 8-bit values come back, premultiplied by the same 8-bit coverage
        np.testing.assert_array_equal(packed.images[i], cap.images[i])
        np.testing.assert_array_equal(packed.masks[i], cap.masks[i])


def test_downscaled_levels_match_float32_within_one_8bit_step(tmp_path):
    make_nerfstudio(tmp_path, n=3, w=40, h=32)
    _soft_masks(tmp_path, 3, 32, 40)
    cap = load_capture(tmp_path)
    level = cap.downscaled(2)
    for i in range(3):
        ref_rgb = resize_area(cap.images[i], 16, 20)
        ref_a = resize_area(cap.masks[i][..., None], 16, 20)[..., 0]
        np.testing.assert_allclose(level.masks[i], ref_a, atol=0.5 / 255 + 1e-6)
        inside = ref_a > 0.05  # straight colour is quantized: compare it where coverage is not tiny
        straight = linear_to_srgb(level.images[i][inside] / level.masks[i][inside][:, None])
        ref = linear_to_srgb(ref_rgb[inside] / ref_a[inside][:, None])
        assert np.abs(straight - ref).max() <= 0.5 / 255 + 1e-5, np.abs(straight - ref).max()
    assert level.cameras[0].fx == cap.cameras[0].fx / 2


def test_hdr_views_pack_as_half_float():
    rng = np.random.default_rng(1)
    rgb = rng.random((2, 8, 8, 3)).astype(np.float32) * 10
    rgb[0, 0, 0] = 1e6  # a sun glint beyond half-float range
    a = np.ones((2, 8, 8), np.float32)
    store = DiskViews(lambda i: (rgb[i], a[i]), 2, 8, 8, eight_bit=False)
    images, _ = views_of(store)
    packed, masks = pack_resized(images, 8, 8)
    assert packed.store.rgb.dtype == np.float16 and packed.store.nbytes == 2 * 8 * 8 * 8
    got = packed[1]
    np.testing.assert_allclose(got, rgb[1], rtol=2.0**-11)
    assert packed[0][0, 0, 0] == HALF_MAX and np.isfinite(np.asarray(packed)).all()


def test_gains_make_views_lazily_and_pack_as_half():
    rgb = np.full((2, 4, 4, 3), 0.8, np.float32)
    store = DiskViews(lambda i: (rgb[i], np.ones((4, 4), np.float32)), 2, 4, 4, eight_bit=True)
    images, _ = views_of(store)
    g = images.with_gains(np.array([[2.0, 1.0, 0.5], [1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(g[0][0, 0], [1.6, 0.8, 0.4], rtol=1e-6)
    assert not g.eight_bit  # 1.6 would clip in 8 bits: gained views pack as half floats
    np.testing.assert_allclose(pack_resized(g, 4, 4)[0][0][0, 0], [1.6, 0.8, 0.4], rtol=1e-3)


def test_geometry_level_batches_are_the_float32_images(tmp_path):
    from relight.geometry.config import GeometryConfig
    from relight.geometry.fit import _level_data

    make_nerfstudio(tmp_path, n=4, w=40, h=32)
    cap = load_capture(tmp_path)
    cfg = GeometryConfig(image_res=20, levels=1)
    data = _level_data(cap, cfg, 0, torch.device("cpu"))
    assert data.images.dtype == np.float16 and data.res == (16, 20)
    imgs, masks = data.batch(torch.tensor([1, 3]))
    assert imgs.dtype == torch.float32 and imgs.shape == (2, 16, 20, 3)
    ref = linear_to_srgb(np.clip(resize_area(cap.images[3], 16, 20), 0, 1))
    np.testing.assert_allclose(imgs[1].numpy(), ref, atol=2.0**-11)
    np.testing.assert_allclose(masks[0].numpy(), resize_area(cap.masks[1][..., None], 16, 20)[..., 0], atol=1e-3)


@pytest.mark.parametrize("res,image_res,factor", [((2048, 2048), 512, 4), ((2000, 1500), 512, 4), ((256, 256), 512, 1),
                                                  ((800, 800), 512, 2), ((2048, 2048), 0, 1)])
def test_material_trains_at_most_at_image_res(res, image_res, factor):
    from relight.material.config import MaterialConfig
    from relight.material.state import image_factor

    cfg = MaterialConfig(image_res=image_res, levels=3)
    assert cfg.finest_factor(*res) == factor
    assert image_factor(cfg, 2, res) == factor and image_factor(cfg, 0, res) == 4 * factor
    if image_res:
        assert max(res) // factor <= image_res


def test_memory_estimate_of_a_large_capture_is_a_few_gib():
    """300 views at 2048², fast preset: the estimate (what --max-memory checks) is what issue 20
    asks of the measured peak (bench/bench_large_capture.py measures it)."""
    from relight.geometry.config import load_config as gload
    from relight.material.config import load_config as mload
    from relight.runtime.resources import CaptureSize, GiB, estimate_fit

    est = estimate_fit(CaptureSize(300, 2048, 2048, eight_bit=True), "cpu", gload("fast"), mload("fast"))
    assert est.total < 6 * GiB, est.describe()
    assert 300 * 2048 * 2048 * 16 > 8 * est.total  # float32 views alone would be 8x more


def test_metrics_summed_view_by_view_equal_the_whole_set():
    """Evaluation scores a large split one view at a time: the sums give the metrics of the stack."""
    from relight.evaluation.metrics import mask_iou, overlap, psnr, psnr_of, squared_error

    rng = np.random.default_rng(3)
    pred, gt = rng.random((5, 16, 16, 3)).astype(np.float32), rng.random((5, 16, 16, 3)).astype(np.float32)
    cov, ref = rng.random((5, 16, 16)), rng.random((5, 16, 16))
    sums = np.sum([[*squared_error(p, g, r > 0.5), *overlap(c, r)]
                   for p, g, c, r in zip(pred, gt, cov, ref, strict=True)], 0)
    assert psnr_of(sums[0], int(sums[1])) == pytest.approx(psnr(pred, gt, ref > 0.5), abs=1e-5)
    assert sums[2] / sums[3] == pytest.approx(mask_iou(cov, ref), abs=1e-12)
