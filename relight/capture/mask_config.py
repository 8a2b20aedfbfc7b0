"""The settings of the automatic masks (:mod:`relight.capture.masks`), each with the
measurement behind its default (photo-like synthetic captures, results/photos.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MaskConfig:
    neighbours: int = 8
    """Views warped to predict a moving camera's background."""
    low: float = 0.04
    """sRGB difference to the predicted background below which a pixel is probable background."""
    high: float = 0.12
    """... above which it is probable object."""
    noise_quantile: float = 0.25
    """A view's background noise — how closely its predicted background matches where it is
    background (JPEG, sensor and render noise, exposure, a warp's resampling) — is taken as this
    quantile of its difference to the prediction: at least this share of the frame is assumed to
    be background. Where ``noise_low`` and ``noise_high`` times it are below ``low`` and
    ``high``, they replace them for that view (see :func:`for_view`)."""
    noise_low: float = 3.0
    noise_high: float = 6.0
    """A smooth, plain object differs from its warped neighbours by less than ``low`` over most
    of its area (its shading moves a little; its colour does not), while a textured background
    is predicted to within its noise. Measured on the blob photo set (59 views posed by SfM to
    0.1°): background median difference 0.005-0.011, object 0.030-0.044, ``low`` 0.04, so 55-73 %
    of the object matched the background and the first masks missed it (median IoU 0.083); at 3x
    and 6x the noise (quantile 0.25) 0.991. 2x / 5x and 4x / 8x gave the same median (0.991 and
    0.990). Final masks (both rounds): blob median / worst IoU 0.990 / 0.803, 93 % of views
    >= 0.95 (refused before: no consensus); the textured spot, whose object was found anyway,
    pays: 0.960 / 0.881 / 61 % -> 0.949 / 0.836 / 48 % (its shadow matches the floor less often
    at the lower ``low``). At 5x / 10x spot kept 0.960 / 0.836 / 58 % but blob fell to
    0.990 / 0.625 / 73 %; with the noise thresholds in the first round only, blob 0.989 / 0.731 /
    69 %."""
    sure_background: float = 0.012
    """Radius (fraction of the image's longer side) of the disc around a pixel that must match
    the predicted background all through for the pixel to be sure background; a pixel that
    matches alone is only probable background. A patterned object matches warped neighbours by
    chance in scattered spots (on the knot photo set a quarter of its pixels, which as sure
    background shredded the first masks: median IoU 0.08); the background matches over wide
    areas. Measured first-round median / worst IoU, knot 0.08 / 0.01 -> 0.98 / 0.86, spot
    0.906 / 0.28 -> 0.958 / 0.84 at 0.012; at 0.02 worst 0.66 (knot) and 0.63 (spot). 0: every
    matching pixel is sure background (as before)."""
    grabcut_iterations: int = 5
    max_side: int = 640
    """Masks are made at this longer side at most and scaled back (GrabCut takes ~5 s a
    megapixel photo; the edge moves by under a pixel of the full photo per 2x)."""
    hull_grid: int = 128
    """Voxels along the longest side of the carving volume."""
    hull_votes: float = 0.9
    """Fraction of the views seeing a voxel whose masks must contain it."""
    min_consensus: float = 0.05
    """Refuse the masks when the strict hull holds less than this fraction of the majority
    hull's voxels: the views then agree on almost no object, so the poses (or the first masks)
    are wrong, and the second round would only cut noise, slowly. Measured: 0.41 on the spot
    photo set; 0.0005 on the knot photo set, whose SfM poses are ~2° off (its second round ran
    over 15 min before it was stopped)."""
    min_recall: float = 0.75
    """A view's first mask votes on the strict hull only when it holds at least this fraction of
    the median view's share of the majority hull's silhouette. A mask that misses what the others
    agree on carves true object out of the strict hull for every view; one with extra background
    only carves less, so only the missing side is judged. Measured on the blob photo set (64
    views, the plain object's shaded lower side missed by the first masks of 10 low views):
    final median / worst IoU 0.986 / 0.753, 88 % of views >= 0.95 -> 0.984 / 0.953, 100 %;
    spot: no view left out, the same masks (0.958 / 0.831 / 56 %). Judging the views by IoU
    with the majority silhouette instead also left out 3 spot views whose first masks held
    their shadow: 0.950 / 0.831 / 52 %."""
    seed_votes: float = 1.0
    """Fraction of the voting views (:attr:`min_recall`) whose masks must hold a voxel for its
    silhouette, eroded, to be sure object in the second round (GrabCut cannot undo a sure label;
    the strict hull only marks probable object). The strict hull keeps a voxel that fewer than
    ``1 - hull_votes`` of the views see outside their masks: a concavity that only a few views
    see against the background (the blob's neck) was sure object in every view, and the first
    masks that had filled it stayed filled. Measured (final masks, median / worst IoU, views
    >= 0.95; outward bias = (wrongly kept - missed) pixels / true outline length): blob 0.984 /
    0.953 / 100 %, bias 1.76 px -> 0.991 / 0.960 / 100 %, 0.69 px; spot 0.958 / 0.831 / 56 % ->
    0.962 / 0.882 / 67 %; 0.97 gave the same (blob 0.991 / 0.959, spot 0.963 / 0.882 / 66 %).
    Why it matters: a mesh fitted to the blob's SfM capture (``relight geometry --downscale 2``)
    lay 0.0133 outside the true surface (of a ~0.85 radius; normal error 7.9°), with the truth's
    masks 0.0026 (5.5°), and 0.0066 (5.6°) with only the wrongly kept pixels over 2 px from the
    true outline put right: the filled concavities and background patches decide most of it.
    With this default the mesh lies +0.0041 outside (7.5°; results/mask_geometry.md)."""
    consistency_cut: bool = True
    """After the second round, each mask keeps only the silhouette (grown by a pixel) of the
    strict hull of all the second-round masks: a pixel that more than ``1 - hull_votes`` of the
    views seeing its ray call background is dropped (a shadow beside the object that GrabCut kept in the views from
    above, where its colours match the object's dark patches; the side views see the floor
    there). It can only remove, so an object part most views missed stays missed. Measured on
    the spot photo set (64 views at 512², one SfM run; results/photos.md, session 16): median /
    worst IoU / views >= 0.95 0.960 / 0.873 / 62 % -> 0.965 / 0.903 / 72 %
    (``bench/bench_mask_variants.py``; on an earlier SfM run of the same photos 0.961 / 0.882 /
    64 % -> 0.966 / 0.915 / 75 %, where dilating the silhouette by 1-2 px or carving at 192³
    changed the median by < 0.001, and adding back the pixels inside the silhouette that differ
    from the predicted background made it worse: 0.944 / 0.895 / 25 %). A second hull-seeded
    GrabCut round instead did not help (0.964 / 0.874 / 66 % -> 0.960 / 0.874 / 62 %). The
    pixel of growth keeps true outline pixels that the voxel centres leave uncovered (a test
    sphere at 64² lost one without it); on spot 0.965 / 0.901 / 73 % with it."""
    flag_iou: float = 0.85
    """Views whose mask agrees less than this with the hull's silhouette are flagged."""
    threads: int = 0
    """Views processed at once (0: one per core). OpenCV and numpy release the GIL, so threads
    run in parallel; each view's result does not depend on the others' or on the order."""
