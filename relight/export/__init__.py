"""Exports of an asset for other tools and people.

* ``formats`` — :func:`export_asset`: glTF 2.0 binary (PBR metallic-roughness) or OBJ + MTL,
  plus the envmap as EXR.
* ``report`` — :func:`write_report`: the HTML page with pictures, textures, light and metrics.

May import: ``relight.render``, ``relight.data``, ``relight.runtime``.
"""
