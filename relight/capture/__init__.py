"""The capture stage: from photos to posed views relight reads.

* ``photos`` — photo folders: listing, EXIF orientation, one camera, duplicates, blur diagnosis.
* ``sfm`` — structure from motion with pycolmap (features, matching, mapping, undistortion).
* ``llff`` — LLFF ``poses_bounds.npy`` captures.
* ``frame`` — the world frame: object at the origin, +y up, known scale; pose errors.
* ``background`` — the background predicted per photo (median photo, or neighbours warped by homographies).
* ``masks`` — automatic masks (GrabCut from the background's difference, visual-hull consistency).
* ``mask_config`` — :class:`MaskConfig`, the automatic masks' settings and the measurements behind them.
* ``poses`` — :func:`estimate_poses` and :func:`write_capture` behind ``relight poses``.

May import: data, runtime.
"""
