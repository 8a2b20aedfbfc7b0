"""Rendering with Mitsuba 3, and the scenes relight renders.

* ``mitsuba`` — :func:`build_scene` (in-memory meshes, float textures so they stay
  differentiable, envmap emitter), :func:`render_views`, :func:`surface_aovs`, :func:`sensor`,
  :func:`turn_light` (a turntable capture's per-view light).
* ``synth`` — :func:`synthesize`: a ground-truth capture of a scene (``relight synth``).
* ``photos`` — :func:`render_photos`: ``relight synth --photos`` (JPEGs as a camera delivers them).
* ``scene`` — :class:`SceneSpec`, scene TOML files, the built-in scenes and envmaps.
* ``textures``, ``shapes`` — procedural textures (and bilinear lookups), procedural shapes (torus knot,
  blob, and the lathe objects vase and bottle).

May import: ``relight.data``, ``relight.runtime``.
"""
