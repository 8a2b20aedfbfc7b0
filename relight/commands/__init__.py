"""One module per CLI verb, each with a ``run(...)`` that loads the inputs, runs the library and
writes the output (``cli/`` only parses options and prints): ``synth``, ``scenes``, ``inspect``,
``geometry``, ``material``, ``fit``, ``eval``, ``render``, ``export``, ``report``, ``demo``.

* ``output`` — :func:`command_output`, the one output helper (output and memory checks,
  checkpoint folder, atomic folder write, metrics and loss plots).
* ``common`` — the preset for a device (:func:`preset_for`), a capture's splits, its GT mesh.

May import: every package of relight.
"""
