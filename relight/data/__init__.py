"""The typed data that flows between stages, and its files.

* ``camera`` — :class:`Camera` (pinhole, OpenGL axes; projection, clip space, Mitsuba sensor
  axes), camera rigs (:func:`orbit_cameras`, :func:`ring_cameras`).
* ``mesh`` — :class:`Mesh` (vertices, faces, UVs, normals), OBJ read/write and validation.
* ``capture`` — :class:`Capture` (views, masks, cameras, optional :class:`GroundTruth` and
  :class:`RelitViews`); ``capture_io`` — :func:`load_capture` (NeRF-synthetic / nerfstudio),
  :func:`peek_capture`, the writers ``relight synth`` uses.
* ``asset`` — :class:`Asset` (mesh + textures + envmap) and its folder: :func:`load_asset`,
  :func:`save_asset` (the asset writer).
* ``images`` — EXR / PNG / HDR I/O, sRGB transfer, area resampling.

May import: ``relight.runtime``.
"""
