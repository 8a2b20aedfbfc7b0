"""Memory guard: estimate a command's peak memory before it starts, refuse when it will not fit.

The model is additive and calibrated on measured peaks (``bench/bench_memory.py`` →
``results/memory.md``, CPU ``llvm_ad_rgb`` + torch CPU):

* ``BASE`` — the interpreter with torch, Mitsuba and Dr.Jit loaded (≈ 380 MB measured);
* capture — every view as float32 RGB + mask, held twice (numpy and the renderer's copy), plus
  the test split's ground-truth AOVs and relit views when present;
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


def capture_bytes(views: int, height: int, width: int, extra_channels: int = 0) -> int:
    """A capture held in memory: RGB + mask float32, twice, plus optional AOV/relit channels."""
    return views * height * width * 4 * (2 * 4 + extra_channels)


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


def estimate_fit(capture: tuple[int, int, int], device: str, gcfg=None, mcfg=None) -> MemoryEstimate:
    """Peak memory of ``relight geometry`` (``gcfg``), ``material`` (``mcfg``) or ``fit`` (both:
    the stages run one after the other, so the larger work counts). ``capture`` is (bytes of its
    views in memory, height, width): :func:`relight.data.capture_io.capture_memory`."""
    cap, h, w = capture
    work = {}
    if gcfg is not None:
        s = min(1.0, gcfg.image_res / max(h, w))
        k = gcfg.supersample  # rasterized at k x the level's resolution
        work["geometry"] = geometry_work_bytes(round(h * s) * k, round(w * s) * k, gcfg.batch_views, gcfg.max_faces)
    if mcfg is not None:
        work["material"] = material_work_bytes(h, w, mcfg.spp, mcfg.batch_views, mcfg.tex_res, mcfg.env_width,
                                               device)
    name = max(work, key=work.get)
    return MemoryEstimate({"base": BASE, "images": cap, name: work[name]})


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
