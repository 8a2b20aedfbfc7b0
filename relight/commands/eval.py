"""``relight eval``: the metrics of an asset against a capture's test split (protocol:
:mod:`relight.evaluation.evaluate`), printed and optionally written as JSON + Markdown."""

from __future__ import annotations

import json
from pathlib import Path

from relight.commands.common import gt_mesh_of, reference_of
from relight.data.asset import load_asset
from relight.data.capture_io import load_capture
from relight.evaluation.evaluate import EVAL_SPP, EvalResult, evaluate
from relight.runtime.backend import Backend
from relight.runtime.paths import check_disjoint, check_output_name, write_text_atomic
from relight.runtime.progress import Reporter


def run(asset_dir: Path, capture: Path, backend: Backend, *, out: Path | None = None, spp: int = EVAL_SPP,
        holdout_every: int = 0, downscale: int = 1, noise_free: bool = False,
        reporter: Reporter | None = None) -> EvalResult:
    """Evaluate the asset in ``asset_dir``; with ``out``, write ``out.json`` and ``out.md``.
    ``holdout_every``/``downscale``: as the fit that made the asset was given them.
    ``noise_free``: also score relighting without the renders' noise (a synthetic capture)."""
    files = (Path(out).with_suffix(".json"), Path(out).with_suffix(".md")) if out is not None else ()
    if files:  # before the renders: a bad output path fails at once
        check_output_name(Path(out))
        for f in files:
            check_disjoint(f, [asset_dir, capture])
    asset = load_asset(asset_dir)
    test = load_capture(capture, "test", holdout_every=holdout_every, downscale=downscale)
    reference = reference_of(capture, test) if noise_free else None
    res = evaluate(asset, test, backend, spp=spp, reporter=reporter, gt_mesh=gt_mesh_of(capture),
                   reference=reference)
    if files:
        files[0].parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(files[0], json.dumps(res.to_json(), indent=2) + "\n")
        write_text_atomic(files[1], res.to_markdown())
    return res
