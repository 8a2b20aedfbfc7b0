"""Regenerate the small assets shipped in scenes/ from ../shared/data (maintainers only).

Envmaps are area-downsampled to 512x256 (energy preserving) and stored as half-float ZIP EXR (clamped to 65000);
Spot's texture is downsampled to 512x512. Credits and licences: scenes/CREDITS.md.
Usage: .venv/bin/python scenes/prepare_assets.py [SHARED_DATA_DIR]
"""

import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from relight.data.images import read_envmap, resize_area, write_exr

HERE = Path(__file__).parent
ENVMAPS = ["courtyard.exr", "forest.exr", "studio.exr", "interior.exr", "city.exr",
           "venice_sunset_1k.hdr", "spruit_sunrise_1k.hdr"]


def main(src: Path) -> None:
    for name in ENVMAPS:
        env = read_envmap(src / "envmaps" / name)
        small = resize_area(env, 256, 512)
        out = HERE / "envmaps" / (Path(name).stem.replace("_1k", "") + ".exr")
        write_exr(out, np.clip(small, 0.0, 65000.0), half=True)
        print(f"{out}: mean radiance {env.mean():.4f} -> {small.mean():.4f}")
    shutil.copy(src / "meshes/spot/spot.obj", HERE / "spot/spot.obj")
    Image.open(src / "meshes/spot/spot_texture.png").convert("RGB").resize(
        (512, 512), Image.LANCZOS).save(HERE / "spot/spot_texture.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "data")
