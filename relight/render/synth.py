"""``relight synth``: render a ground-truth capture of a scene description with Mitsuba.

Output folder (NeRF-synthetic layout, readable by :func:`relight.data.capture_io.load_capture`)::

    transforms_train.json / transforms_test.json   cameras (+ per-frame intrinsics)
    train/r_000.png + .exr      RGBA: PNG sRGB straight alpha, EXR linear premultiplied
    test/r_000.png + .exr
    test/aov/r_000_{albedo,roughness,normal}.exr   GT AOVs at pixel centres (linear, world normals)
    test/aov/r_000_metallic.exr                     (scenes with a metallic texture)
    relit/<env>/r_000.png + .exr                   test views under each relighting envmap
    gt/                          the ground-truth asset (mesh, textures, training envmap)
    gt/envmaps/<env>.exr         the relighting envmaps
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from relight.data.asset import save_asset
from relight.data.capture_io import write_rgba, write_transforms
from relight.data.images import image_size, read_envmap, write_exr, write_png
from relight.render.mitsuba import build_scene, render_views, surface_aovs
from relight.render.scene import SceneSpec
from relight.runtime.backend import Backend
from relight.runtime.config import to_dict
from relight.runtime.progress import Reporter
from relight.runtime.resources import MemoryEstimate, estimate_render


@dataclass(frozen=True)
class SynthResult:
    """What :func:`synthesize` wrote and how long each phase took (seconds, wall clock)."""

    out: Path
    train_views: int
    test_views: int
    relit: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


def _relit_names(spec: SceneSpec) -> list[str]:
    names = []
    for r in spec.light.relight:
        base = Path(r.envmap).stem
        name = base if not r.rotation_deg else f"{base}_r{int(round(r.rotation_deg))}"
        while name in names:
            name += "_"
        names.append(name)
    return names


def scene_image_pixels(spec: SceneSpec) -> int:
    """Pixels of the image files a scene reads (envmaps, texture files), from their headers."""
    files = [spec.resolve(spec.light.envmap)] + [spec.resolve(r.envmap) for r in spec.light.relight]
    m = spec.material
    files += [spec.resolve(t.file) for t in (m.albedo, m.roughness, m.metallic) if t is not None and t.file]
    return sum(w * h for w, h in (image_size(f) for f in files))


def synth_memory(spec: SceneSpec, device: str) -> MemoryEstimate:
    """Peak-memory estimate of :func:`synthesize`, with the scene's own envmaps and textures."""
    c, cams = spec.cameras, spec.train_cameras()
    return estimate_render(max(len(cams), len(spec.test_cameras())), cams[0].height, cams[0].width,
                           max(c.spp, c.test_spp), device, envmap_pixels=scene_image_pixels(spec))


def synthesize(spec: SceneSpec, out: Path, backend: Backend, *, folder: Path | None = None,
               reporter: Reporter | None = None) -> SynthResult:
    """Render ``spec`` into the capture ``out``, written into the empty ``folder`` (default
    ``out`` itself; the command passes its temporary folder, which becomes ``out``)."""
    rep = reporter or Reporter()
    out = Path(out)
    tmp = Path(folder) if folder is not None else out
    tmp.mkdir(parents=True, exist_ok=True)
    c = spec.cameras
    times: dict[str, float] = {}
    train_cams, test_cams = spec.train_cameras(), spec.test_cameras()
    asset = spec.build_asset()
    relit = list(zip(_relit_names(spec), spec.light.relight, strict=True))
    meta = {"scene": spec.name, "spec": {k: v for k, v in to_dict(spec).items() if k != "base"},
            "max_depth": c.max_depth,
            "renderer": f"mitsuba {backend.variant}, path, max_depth={c.max_depth}, spp={c.spp}, "
                        f"test_spp={c.test_spp}"}

    def writer(folder: Path):
        def on_view(i: int, rgba: np.ndarray):
            write_rgba(folder / f"r_{i:03d}", rgba)
            advance()
        return on_view

    t0 = time.perf_counter()
    scene = build_scene(backend, asset, c.max_depth)
    seeds = {"train": c.seed, "test": c.seed + 10_000}  # relit views reuse the test seed:
    for split, cams in (("train", train_cams), ("test", test_cams)):  # identical coverage
        if not cams:
            continue
        (tmp / split).mkdir()
        t = time.perf_counter()
        with rep.task(f"{split} views", len(cams)) as advance:
            render_views(backend, scene, cams, c.spp if split == "train" else c.test_spp, seed=seeds[split],
                         on_view=writer(tmp / split))
        times[f"render_{split}"] = time.perf_counter() - t
    extra_test: dict = {}
    if test_cams:
        t = time.perf_counter()
        (tmp / "test/aov").mkdir()
        for i, cam in enumerate(test_cams):
            a = surface_aovs(backend, scene, asset, cam)
            write_exr(tmp / f"test/aov/r_{i:03d}_albedo.exr", a["albedo"])
            write_exr(tmp / f"test/aov/r_{i:03d}_roughness.exr", a["roughness"])
            if "metallic" in a:
                write_exr(tmp / f"test/aov/r_{i:03d}_metallic.exr", a["metallic"])
            write_exr(tmp / f"test/aov/r_{i:03d}_normal.exr", a["normals"])
            write_png(tmp / f"test/aov/r_{i:03d}_normal.png", np.where(a["hit"][..., None] > 0,
                                                                     a["normals"] * 0.5 + 0.5, 0))
        times["aovs"] = time.perf_counter() - t
        extra_test["aovs"] = {"albedo": "test/aov/{name}_albedo.exr",
                              "roughness": "test/aov/{name}_roughness.exr",
                              "normals": "test/aov/{name}_normal.exr"}
        if asset.metallic is not None:
            extra_test["aovs"]["metallic"] = "test/aov/{name}_metallic.exr"
        (tmp / "gt/envmaps").mkdir(parents=True)
        extra_test["relit"] = {}
        t = time.perf_counter()
        for name, r in relit:
            env = read_envmap(spec.resolve(r.envmap))
            write_exr(tmp / f"gt/envmaps/{name}.exr", env)
            rscene = build_scene(backend, asset.with_envmap(env, r.rotation_deg), c.max_depth)
            (tmp / "relit" / name).mkdir(parents=True)
            with rep.task(f"relit {name}", len(test_cams)) as advance:
                render_views(backend, rscene, test_cams, c.test_spp, seed=seeds["test"],
                             on_view=writer(tmp / "relit" / name))
            extra_test["relit"][name] = {"envmap": f"gt/envmaps/{name}.exr", "rotation_deg": r.rotation_deg,
                                         "images": f"relit/{name}/{{name}}.exr"}
        times["render_relit"] = time.perf_counter() - t
    names = [f"r_{i:03d}" for i in range(len(train_cams))]
    write_transforms(tmp / "transforms_train.json", train_cams, [f"./train/{n}" for n in names], meta)
    if test_cams:
        names = [f"r_{i:03d}" for i in range(len(test_cams))]
        write_transforms(tmp / "transforms_test.json", test_cams, [f"./test/{n}" for n in names],
                         {**meta, **extra_test})
    save_asset(asset, tmp / "gt")
    times["total"] = time.perf_counter() - t0
    rep.log(f"wrote {out} ({len(train_cams)} train, {len(test_cams)} test views, "
            f"{len(relit)} relit sets) in {times['total']:.1f} s")
    return SynthResult(out, len(train_cams), len(test_cams), [n for n, _ in relit], times)
