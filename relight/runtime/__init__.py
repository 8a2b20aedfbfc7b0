"""Runtime concerns shared by every stage; no stage logic.

* ``backend`` — :func:`select_backend`: the only place that sets the Mitsuba variant and pins libLLVM.
* ``config`` — config dataclasses loaded strictly from TOML (:func:`load_preset`, :func:`to_dict`).
* ``errors`` — :class:`RelightError`, the one-line error every bad input becomes.
* ``paths`` — safe paths inside a folder, atomic files and folders, checkpoint ``.npz`` I/O.
* ``resources`` — the memory guard (:func:`estimate_fit`, :func:`estimate_render`, :func:`check_memory`).
* ``interrupt`` — Ctrl-C / SIGTERM as a flag between steps (:func:`graceful_stop`, :class:`Interrupted`).
* ``progress`` — :class:`Reporter` (quiet) and :class:`RichReporter` (progress bars).
* ``loop`` — :func:`run_loop`, the one fit loop of the geometry and material stages.

May import: nothing of relight (third-party libraries only).
"""
