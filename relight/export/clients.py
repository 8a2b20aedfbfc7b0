"""Real programs as clients of relight's exports: Blender (``bpy`` from PyPI, in its own venv
``.venv-blender`` because it pins numpy < 2) and three.js in headless Chromium (Debian's
``chromium`` driven by ``playwright-core``, both pinned in ``tools/``).

Each renders one relight :class:`~relight.data.camera.Camera` under an exported envmap, so
:func:`object_psnr` can compare it with relight's own render of the same view: the check that
an exported look survives the trip into another program.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import binary_erosion

from relight.data.camera import Camera
from relight.data.images import linear_to_srgb, read_exr, srgb_to_linear
from relight.export.viewer import camera_query, serve

ROOT = Path(__file__).resolve().parents[2]
BLENDER_PYTHON = Path(os.environ.get("RELIGHT_BLENDER_PYTHON") or ROOT / ".venv-blender/bin/python")
BLENDER_CLIENT = ROOT / "tools/blender/client.py"
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
SHOOT = ROOT / "tools/web/shoot.js"


def have_blender() -> bool:
    return BLENDER_PYTHON.is_file() and BLENDER_CLIENT.is_file()


def have_chromium() -> bool:
    return (CHROMIUM.is_file() and shutil.which("node") is not None
            and (ROOT / "tools/web/node_modules/playwright-core").is_dir())


def blender_render(model: Path, envmap: Path, cam: Camera, work: Path, samples: int = 64,
                   rotate_z_deg: float = 0.0, timeout: float = 600) -> tuple[np.ndarray, dict]:
    """Import ``model`` (.glb / .obj) into Blender, light it with ``envmap`` as exported and
    render ``cam`` with Cycles (CPU). Returns linear RGBA (H, W, 4) and the job's report
    (``graph``: what feeds each Principled socket; ``load_s``, ``render_s``)."""
    work.mkdir(parents=True, exist_ok=True)
    job = {"model": str(Path(model).resolve()), "envmap": str(Path(envmap).resolve()),
           "out": str((work / "blender.exr").resolve()), "graph": str((work / "blender.json").resolve()),
           "c2w": [float(x) for x in cam.c2w.ravel()], "fov_y_deg": math.degrees(cam.fov_y),
           "width": cam.width, "height": cam.height, "samples": samples, "rotate_z_deg": rotate_z_deg}
    (work / "job.json").write_text(json.dumps(job))
    r = subprocess.run([str(BLENDER_PYTHON), str(BLENDER_CLIENT), str(work / "job.json")],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0 or not Path(job["out"]).is_file():
        raise RuntimeError(f"blender client failed ({r.returncode}): {r.stderr[-2000:] or r.stdout[-2000:]}")
    return read_exr(job["out"]), json.loads(Path(job["graph"]).read_text())


def three_render(site: Path, cam: Camera, work: Path, env: str = "fitted", mode: str = "shaded",
                 rot_deg: float = 0.0, page: str = "viewer.html", supersample: int = 2,
                 timeout: float = 180) -> tuple[np.ndarray, dict]:
    """Screenshot the viewer of ``site`` (:func:`relight.export.viewer.write_site`) in headless
    Chromium at ``cam`` under envmap ``env``, black background. Returns sRGB (H, W, 3) in [0, 1]
    and what the page reported (``stats.load_ms``, ``wall_ms``, ``console``).

    The canvas is ``supersample`` times larger and box-averaged down (in linear light), as a
    HiDPI screen shows it: relight's renders are pixel-area averages too, while WebGL on
    SwiftShader samples textures once per pixel."""
    k = max(1, int(supersample))
    w, h = cam.width * k, cam.height * k
    query = f"{camera_query(cam.c2w, math.degrees(cam.fov_y), w, h)}&env={env}&mode={mode}&rot={rot_deg}&bg=0"
    shot = work / f"three_{env}_{mode}.png"
    info = screenshot(site, f"{page}?{query}", shot, w, h, "canvas", timeout)
    img = np.asarray(Image.open(shot).convert("RGB"), np.float32) / 255.0
    if k > 1:
        lin = srgb_to_linear(img).reshape(cam.height, k, cam.width, k, 3).mean((1, 3))
        img = linear_to_srgb(lin).astype(np.float32)
    return img, info


def screenshot(site: Path, path_query: str, out: Path, width: int, height: int, what: str = "canvas",
               timeout: float = 180) -> dict:
    """Serve ``site`` on 127.0.0.1, open ``path_query`` in headless Chromium, wait for the viewer
    to be ready and write ``out`` (the canvas, or the whole ``page``). Raises on a page error."""
    urls: list[str] = []
    ready = threading.Event()
    th = threading.Thread(target=serve, args=(site, 0, lambda u: (urls.append(u), ready.set())), daemon=True)
    th.start()
    ready.wait(10)
    out.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["node", str(SHOOT), urls[0] + path_query, str(out), str(width), str(height), what,
                        str(int(timeout * 1000))], capture_output=True, text=True, timeout=timeout + 30,
                       env={**os.environ, "CHROMIUM": str(CHROMIUM)})
    lines = r.stdout.strip().splitlines()
    info = json.loads(lines[-1]) if lines else {"error": r.stderr[-2000:]}
    if r.returncode != 0 or info.get("error"):
        raise RuntimeError(f"chromium: {info.get('error')} {info.get('console')}")
    return info


def object_psnr(client_srgb: np.ndarray, ref_rgba: np.ndarray, erode: int = 1) -> float:
    """PSNR (dB, sRGB, peak 1) of a client's picture against relight's render (linear RGBA,
    premultiplied) over the object's pixels: full coverage in relight's alpha, shrunk by ``erode``
    pixels so that antialiased edges (filtered differently by each program) do not count."""
    mask = ref_rgba[..., 3] > 0.999
    if erode:
        mask = binary_erosion(mask, iterations=erode)
    ref = linear_to_srgb(np.clip(ref_rgba[..., :3], 0, 1))
    mse = float(np.mean((np.clip(client_srgb[..., :3], 0, 1)[mask] - ref[mask]) ** 2)) if mask.any() else float("nan")
    return float("inf") if mse == 0 else float(-10 * np.log10(mse))
