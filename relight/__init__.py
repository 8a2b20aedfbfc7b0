"""relight: posed photos -> relightable asset (mesh + PBR textures + HDR envmap).

The packages follow the data flow, ``capture -> geometry -> material -> asset -> render /
export / eval``; each may import only the layers below it (checked by
``tests/test_architecture.py``)::

    commands    one module per CLI verb (run(...)), the shared output helper  -> everything below
    export      glTF / OBJ writers, the HTML report                           -> render, data, runtime
    evaluation  metrics (pure), asset and geometry evaluation                 -> geometry, render, data, runtime
    material    the material and lighting stage (Mitsuba path-traced fit)    -> render, data, runtime
    geometry    the geometry stage (hull, Large Steps, remesh, raster)        -> data, runtime
    render      Mitsuba scenes and renders, synth, scene specs, procedural    -> data, runtime
    data        the typed data that flows (Capture, Asset, Mesh, Camera) + I/O -> runtime
    runtime     backend, config, errors, paths, memory, progress, fit loop    -> (nothing of relight)
"""

__version__ = "0.1.0"
