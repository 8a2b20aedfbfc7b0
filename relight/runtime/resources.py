"""Memory guard: estimate a command's peak memory before it starts, refuse when it will not fit.

The model is additive and calibrated on measured peaks (``bench/bench_memory.py`` →
``results/memory.md``, CPU ``llvm_ad_rgb`` + torch CPU):

* ``BASE`` — the interpreter with torch, Mitsuba and Dr.Jit loaded (≈ 380 MB measured);
* capture — views stay on disk (:mod:`relight.data.views`); what is held is the images a stage
  trains on, packed: the geometry level (half-float sRGB + coverage, 8 B a pixel), the material
  stage's finest level (8-bit: 4 B, else 8 B a pixel) with the albedo refinement's per-pixel
  texture lookups (16 B a pixel, counted as if every pixel were inside), plus the test split's
  ground-truth AOVs and relit views (float32) when present;
* stage work — per pixel of one view batch: rasterizer + autograd buffers (geometry),
  path-tracer state (material, render). On the LLVM backend the measured work does not grow with
  spp (samples are generated and accumulated inside one kernel); on CUDA the wavefront holds every
  sample's state, so the estimate adds ``CUDA_BYTES_PER_SAMPLE`` per pixel-sample and renders are
  split into sample passes when that is what does not fit (``render_passes``). The CUDA figures
  are a documented guess, not measured here (no GPU was available).

The limit is ``--max-memory`` (e.g. ``8G``) or, by default, the memory the OS reports as
available (``MemAvailable`` in /proc/meminfo, capped by a cgroup limit).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from relight.runtime.errors import RelightError

MiB = 2**20
GiB = 2**30
BASE = 420 * MiB
GEOMETRY_FIXED, GEOMETRY_PER_PIXEL, GEOMETRY_PER_FACE = 96 * MiB, 640, 2048
MATERIAL_FIXED, MATERIAL_PER_PIXEL = 56 * MiB, 200
RENDER_FIXED, RENDER_PER_PIXEL = 56 * MiB, 260
CUDA_BYTES_PER_SAMPLE = 160
ENVMAP_BYTES_PER_PIXEL = 96
"""A user envmap in memory: the float32 RGB read and its rotated copy, Mitsuba's bitmap and texture,
and the emitter's sampling distribution: ~84 B measured at 8192x4096 (bench/bench_memory.py,
results/memory.md; an 8192x4096 envmap: 2.86 GB measured, 3.13 GB estimated)."""
EVAL_SPP = 256
"""Samples per pixel of evaluation renders (synth's ``test_spp`` default: the references'); the
memory estimate of ``fit`` counts one such render (``relight.evaluation`` uses this value)."""
SAFETY = 1.15
"""Margin applied to the sum (allocator slack, Python objects)."""


def parse_size(text: str) -> int:
    """``"8G"``, ``"512MiB"``, ``"1.5GB"``, ``"2000000000"`` → bytes (powers of 1024 for K/M/G/T)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(i?B)?\s*", str(text), re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise RelightError(f"cannot read memory size '{text}'", fix="write it like 8G, 512M or 16GiB")
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " "))


def available_memory() -> int | None:
    """Bytes the OS reports as available (MemAvailable, capped by a cgroup v2/v1 limit), or None."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except OSError:
        return None
    for f in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            v = Path(f).read_text().strip()
            if v.isdigit() and int(v) < 2**60:
                avail = min(avail or int(v), int(v))
        except OSError:
            pass
    return avail


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak-memory estimate of one command, by part (bytes)."""

    parts: dict[str, int]

    @property
    def total(self) -> int:
        return int(SAFETY * sum(self.parts.values()))

    def describe(self) -> str:
        detail = ", ".join(f"{k} {v / GiB:.2f}" for k, v in self.parts.items() if v >= 0.005 * GiB)
        return f"{self.total / GiB:.2f} GiB ({detail} GiB, +{round((SAFETY - 1) * 100)}% margin)"


GEOMETRY_LEVEL_BYTES = 8
"""Per pixel of the geometry stage's level images: half-float sRGB RGB + coverage."""
REFINE_BYTES = 16
"""Per pixel of the albedo refinement's observations: texture uv (2 float32), index, weight."""


@dataclass(frozen=True)
class CaptureSize:
    """What the memory guard needs to know of a capture (:func:`relight.data.capture_io.capture_memory`)."""

    views: int
    height: int
    width: int
    eight_bit: bool = False
    """8-bit sources: the material stage's images pack to 4 B a pixel instead of 8."""
    extra: int = 0
    """Bytes held whole: the test split's ground-truth AOVs and relit views (float32)."""
    test_views: int = 0
    """Views of the test split, evaluated one at a time at full resolution after the fit."""


def packed_bytes(views: int, height: int, width: int, eight_bit: bool) -> int:
    """Views packed in memory (:class:`relight.data.views.PackedViews`): RGB + coverage."""
    return views * height * width * (4 if eight_bit else 8)


def geometry_work_bytes(height: int, width: int, batch: int, faces: int) -> int:
    return GEOMETRY_FIXED + GEOMETRY_PER_PIXEL * height * width * batch + GEOMETRY_PER_FACE * faces


def material_work_bytes(height: int, width: int, spp: int, batch: int, tex_res: int, env_width: int,
                        device: str = "cpu") -> int:
    px = height * width * batch
    per_sample = CUDA_BYTES_PER_SAMPLE * px * spp if device == "cuda" else 0
    params = 4 * 6 * (5 * tex_res * tex_res + 3 * env_width * env_width // 2)  # values, grads, Adam, mean
    return MATERIAL_FIXED + MATERIAL_PER_PIXEL * px + per_sample + params


def render_work_bytes(height: int, width: int, spp: int, device: str = "cpu") -> int:
    per_sample = CUDA_BYTES_PER_SAMPLE * height * width * spp if device == "cuda" else 0
    return RENDER_FIXED + RENDER_PER_PIXEL * height * width + per_sample


def render_passes(height: int, width: int, spp: int, device: str, budget: int | None) -> int:
    """Number of sample passes a render is split into so that its work fits ``budget`` bytes
    (sample-space tiling; 1 on CPU, where the work does not grow with spp)."""
    if device != "cuda" or budget is None:
        return 1
    fixed = render_work_bytes(height, width, 0, device)
    per_sample = CUDA_BYTES_PER_SAMPLE * height * width
    spp_per_pass = max(1, (budget - BASE - fixed) // per_sample)
    return max(1, min(spp, math.ceil(spp / spp_per_pass)))


def resolve_limit(max_memory: str | int | None) -> tuple[int | None, str]:
    """(limit in bytes or None when unknown, where it comes from)."""
    if max_memory is None or max_memory == "auto":
        return available_memory(), "available RAM"
    return (max_memory if isinstance(max_memory, int) else parse_size(max_memory)), "--max-memory"


def check_memory(est: MemoryEstimate, max_memory: str | int | None, what: str, fix: str) -> None:
    """Raise a one-line :class:`RelightError` when ``est`` exceeds the limit."""
    limit, source = resolve_limit(max_memory)
    if limit is not None and est.total > limit:
        raise RelightError(f"{what} needs an estimated {est.describe()}, more than the {limit / GiB:.2f} GiB "
                           f"of {source}", fix=fix)


def estimate_fit(capture: CaptureSize, device: str, gcfg=None, mcfg=None) -> MemoryEstimate:
    """Peak memory of ``relight geometry`` (``gcfg``), ``material`` (``mcfg``) or ``fit`` (both:
    the stages run one after the other, so the larger one counts)."""
    c, stages = capture, {}
    if gcfg is not None:
        s = min(1.0, gcfg.image_res / max(c.height, c.width))
        h, w = round(c.height * s), round(c.width * s)
        k = gcfg.supersample  # rasterized at k x the level's resolution
        stages["geometry"] = (GEOMETRY_LEVEL_BYTES * c.views * h * w,
                              geometry_work_bytes(h * k, w * k, gcfg.batch_views, gcfg.max_faces))
    if mcfg is not None:
        f = mcfg.finest_factor(c.height, c.width)
        h, w = c.height // f, c.width // f
        env = max(mcfg.env_width, mcfg.env_compact_width if mcfg.compact_pilot else 0)  # a compact light's width
        stages["material"] = (packed_bytes(c.views, h, w, c.eight_bit) + REFINE_BYTES * c.views * h * w,
                              material_work_bytes(h, w, mcfg.spp, mcfg.batch_views, mcfg.largest_tex_res, env,
                                                  device))
    if mcfg is not None and c.test_views:  # `fit` evaluates: one full-resolution render at a time
        stages["evaluation"] = (0, render_work_bytes(c.height, c.width, EVAL_SPP, device))
    name = max(stages, key=lambda k: sum(stages[k]))
    images, work = stages[name]
    return MemoryEstimate({"base": BASE, "images": images + c.extra, name: work})


def estimate_render(views: int, height: int, width: int, spp: int, device: str, budget: int | None = None,
                    envmap_pixels: int = 0) -> MemoryEstimate:
    """Peak memory of rendering ``views`` frames (kept in memory as RGBA float32 until written),
    with a user-supplied envmap of ``envmap_pixels`` pixels (its copies: :data:`ENVMAP_BYTES_PER_PIXEL`)."""
    passes = render_passes(height, width, spp, device, budget)
    parts = {"base": BASE, "frames": views * height * width * 16,
             "render": render_work_bytes(height, width, math.ceil(spp / passes), device)}
    if envmap_pixels:
        parts["input images"] = ENVMAP_BYTES_PER_PIXEL * envmap_pixels
    return MemoryEstimate(parts)


FIX_CAPTURE = ("load the images smaller (--downscale 2), lower batch_views/spp in a --config TOML, "
               "or raise --max-memory if the machine has more")
