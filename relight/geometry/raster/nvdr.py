"""The nvdiffrast backend (CUDA): a thin wrapper so it has the same methods as CpuRaster."""

from __future__ import annotations

import importlib.util
import sys

import torch

from relight.runtime.errors import RelightError


def nvdiffrast_available() -> bool:
    """True when ``nvdiffrast`` imports and torch sees a CUDA device."""

    return torch.cuda.is_available() and importlib.util.find_spec("nvdiffrast") is not None


def _plugin_dir_on_path() -> None:
    """Put nvdiffrast's JIT-built plugin folder on ``sys.path``.

    diffrp-nvdiffrast 0.3.3 builds its CUDA plugin with ``torch.utils.cpp_extension.load`` and then
    imports it by name; recent torch (seen with 2.11) loads the built module from its file without
    adding the folder to ``sys.path``, so that import fails with ``No module named
    'nvdiffrast_plugin_...'`` on every first use. Harmless where the folder is already importable.
    """
    import nvdiffrast
    import torch.utils.cpp_extension as ext
    from nvdiffrast.torch.ops import sanitize_name

    name = sanitize_name(f"nvdiffrast_plugin_{nvdiffrast.__version__}_torch{torch.__version__}")
    folder = ext._get_build_directory(name, False)
    if folder not in sys.path:
        sys.path.append(folder)


class NvdiffrastRaster:
    """nvdiffrast's ``RasterizeCudaContext`` and ops (``pip install relight[cuda]``)."""

    name = "nvdiffrast"

    def __init__(self, device: str = "cuda"):
        if not nvdiffrast_available():
            raise RelightError("nvdiffrast needs a CUDA GPU and the diffrp-nvdiffrast package",
                               fix="use --device cpu, or `pip install -e .[cuda]` on a CUDA machine")
        import nvdiffrast.torch as dr  # optional: CUDA machines only (extra "cuda")

        _plugin_dir_on_path()
        self.dr, self.device = dr, torch.device(device)
        self.ctx = dr.RasterizeCudaContext(device=self.device)

    def rasterize(self, pos, tri, resolution):
        rast, _ = self.dr.rasterize(self.ctx, pos.contiguous(), tri.contiguous(), list(resolution))
        return rast, None

    def interpolate(self, attr, rast, tri):
        out, _ = self.dr.interpolate(attr.contiguous(), rast, tri.contiguous())
        return out, None

    def construct_topology_hash(self, tri):
        return self.dr.antialias_construct_topology_hash(tri.contiguous())

    def antialias(self, color, rast, pos, tri, topology_hash=None):
        return self.dr.antialias(color.contiguous(), rast, pos.contiguous(), tri.contiguous(),
                                 topology_hash=topology_hash)
