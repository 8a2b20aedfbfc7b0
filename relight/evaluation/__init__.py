"""Evaluation: how good an asset or a mesh is against a capture's ground truth.

* ``metrics`` — the metrics as pure functions (``psnr``, ``ssim``, ``channel_scale``,
  ``mask_iou``, ``normal_mae``, ``chamfer``).
* ``evaluate`` — :func:`evaluate` ``(asset, test, backend) -> EvalResult`` (the protocol).
* ``geometry`` — :func:`evaluate_geometry` of a geometry-stage result (raster renders).

May import: ``relight.geometry``, ``relight.render``, ``relight.data``, ``relight.runtime``.
"""

from relight.runtime.resources import EVAL_SPP  # noqa: F401  (one value, also in the memory estimate)
