"""The parts of ``relight batch``: the TOML manifest, the per-capture task (plain Python), the Ray
submission and the batch report."""
