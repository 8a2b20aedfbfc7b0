"""The geometry stage: a watertight mesh from a capture's masks and images.

* ``fit`` — :func:`fit_geometry` ``(capture, cfg, raster) -> GeometryResult``.
* ``config`` — :class:`GeometryConfig` and its ``PRESETS``.
* ``hull`` — the visual hull (initial mesh); ``largesteps`` — Large Steps parameterization and
  its Adam; ``remesh`` — isotropic remeshing, subdivision, Taubin smoothing.
* ``losses`` — the geometry loss (silhouette + photometric); ``draw`` — the per-vertex-colour
  render through a raster context; ``state`` — the optimization state and its checkpoints.
* ``raster`` — the :class:`Raster` protocol with nvdiffrast's interface: nvdiffrast (CUDA) and
  relight's own CPU backend.

May import: ``relight.data``, ``relight.runtime``.
"""
