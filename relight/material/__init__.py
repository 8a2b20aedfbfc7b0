"""The material and lighting stage: albedo, roughness (optionally metallic) textures and an HDR
envmap fitted with Mitsuba 3 path-traced gradients on a fixed mesh.

* ``fit`` — :func:`fit_material` ``(capture, mesh, cfg, backend) -> MaterialResult``.
* ``config`` — :class:`MaterialConfig` and its ``PRESETS``.
* ``problem`` — :class:`RenderProblem`: the differentiable render, the image loss and its gradients.
* ``losses`` — image losses and the regularizers (texture TV, palette prior, the envmap
  regularizers ``tv_chroma`` and ``white_balance``); ``optim`` — Adam over numpy arrays.
* ``refine`` — the multiplicative albedo re-solve; ``uv`` — xatlas unwrap and UV coverage.
* ``state`` — the optimization state and its checkpoints.

May import: ``relight.render``, ``relight.data``, ``relight.runtime``.
"""
