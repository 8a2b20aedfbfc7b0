import numpy as np
import pytest

from relight.data import images as im
from relight.runtime.errors import RelightError


def test_srgb_curve_known_values_and_round_trip():
    np.testing.assert_allclose(im.linear_to_srgb(np.array([0.0, 0.0031308, 0.5, 1.0])),
                               [0.0, 0.04045, 0.735357, 1.0], atol=1e-5)
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    np.testing.assert_allclose(im.srgb_to_linear(im.linear_to_srgb(x)), x, atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_exr_round_trip_is_exact(tmp_path, channels):
    a = np.random.default_rng(0).random((7, 9, channels), dtype=np.float32) * 100
    im.write_exr(tmp_path / "a.exr", a)
    b = im.read_exr(tmp_path / "a.exr")
    assert b.shape == a.shape and b.dtype == np.float32
    np.testing.assert_array_equal(b, a)


def test_exr_half_round_trip(tmp_path):
    a = np.random.default_rng(1).random((5, 6, 3), dtype=np.float32)
    im.write_exr(tmp_path / "h.exr", a, half=True)
    np.testing.assert_allclose(im.read_exr(tmp_path / "h.exr"), a, rtol=1e-3)


def test_png_8_and_16_bit_round_trip(tmp_path):
    a = np.random.default_rng(2).random((6, 5, 4), dtype=np.float32)
    im.write_png(tmp_path / "a.png", a)
    np.testing.assert_allclose(im.read_png(tmp_path / "a.png"), a, atol=0.5 / 255 + 1e-6)
    g = a[..., 0]
    im.write_png(tmp_path / "g.png", g, bits=16)
    np.testing.assert_allclose(im.read_png(tmp_path / "g.png")[..., 0], g, atol=0.5 / 65535 + 1e-7)


def test_read_linear_decodes_png_colour_but_not_alpha(tmp_path):
    a = np.array([[[0.5, 0.5, 0.5, 0.5]]], np.float32)
    im.write_png(tmp_path / "p.png", a)
    lin = im.read_linear(tmp_path / "p.png")
    np.testing.assert_allclose(lin[0, 0, :3], im.srgb_to_linear(np.float32(128 / 255)), atol=1e-6)
    assert abs(lin[0, 0, 3] - 128 / 255) < 1e-6


def test_radiance_hdr_read(tmp_path):
    import mitsuba as mi

    a = (np.random.default_rng(3).random((8, 16, 3)) * 50).astype(np.float32)
    mi.Bitmap(a).write(str(tmp_path / "e.hdr"))
    b = im.read_hdr(tmp_path / "e.hdr")
    # RGBE shares one exponent per pixel: the error is bounded by the largest channel / 2^7
    assert np.all(np.abs(b - a) <= a.max(-1, keepdims=True) / 128)
    env = im.read_envmap(tmp_path / "e.hdr")
    assert env.shape == (8, 16, 3)


def test_envmap_checks(tmp_path):
    im.write_exr(tmp_path / "sq.exr", np.ones((8, 8, 3), np.float32))
    with pytest.raises(RelightError, match="2:1"):
        im.read_envmap(tmp_path / "sq.exr")
    bad = np.ones((4, 8, 3), np.float32)
    bad[1, 1, 1] = np.nan
    im.write_exr(tmp_path / "nan.exr", bad)
    with pytest.raises(RelightError, match="NaN"):
        im.read_envmap(tmp_path / "nan.exr")
    lossy = np.ones((4, 8, 3), np.float32)
    lossy[0, 0] = -2e-4  # what lossy compression leaves near black: clamped
    im.write_exr(tmp_path / "lossy.exr", lossy)
    assert im.read_envmap(tmp_path / "lossy.exr").min() == 0.0
    lossy[0, 0] = -0.05  # 5 % of the peak: not radiance, refused
    im.write_exr(tmp_path / "neg.exr", lossy)
    with pytest.raises(RelightError, match="negative values"):
        im.read_envmap(tmp_path / "neg.exr")


@pytest.mark.parametrize("ext", [".exr", ".png", ".hdr"])
def test_truncated_files_give_one_line_errors(tmp_path, ext):
    import mitsuba as mi

    a = np.random.default_rng(4).random((32, 64, 3), dtype=np.float32)
    p = tmp_path / f"t{ext}"
    if ext == ".exr":
        im.write_exr(p, a)
    elif ext == ".png":
        im.write_png(p, a)
    else:
        mi.Bitmap(a).write(str(p))
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])
    with pytest.raises(RelightError) as e:
        im.read_linear(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_area_resize_preserves_mean():
    a = np.random.default_rng(5).random((64, 128, 3), dtype=np.float32)
    b = im.resize_area(a, 16, 32)
    assert b.shape == (16, 32, 3)
    np.testing.assert_allclose(b.mean((0, 1)), a.mean((0, 1)), rtol=1e-5)
