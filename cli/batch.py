"""``relight batch``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import FINITE


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True,
              help="Batch folder: one asset folder per capture, batch.json, batch.md (rerun it to resume).")
@click.option("--address", default=None, metavar="local|auto|ray://HOST:PORT",
              help="Ray cluster to join (auto: the one 'ray start' began on this node); default: a local "
                   "Ray instance started by this command.")
@click.option("--workers", type=click.IntRange(1, 100000), default=1, show_default=True,
              help="Captures reconstructed at once.")
@click.option("--cpus-per-task", type=click.IntRange(1, 1024), default=None,
              help="CPU threads per capture [default: this machine's cores / --workers locally, 2 on a cluster].")
@click.option("--gpus-per-task", type=FINITE, default=0.0, show_default=True,
              help="GPUs per capture (> 0 runs the fits on CUDA; 0.5 puts two captures on a GPU).")
@click.option("--retries", type=click.IntRange(0, 100), default=2, show_default=True,
              help="Retries of a capture whose worker process died (it resumes from its checkpoint).")
@click.option("--preset", type=click.Choice(["fast", "quality"]), default=None,
              help="Settings preset for every capture (overrides the manifest's).")
@click.option("-q", "--quiet", is_flag=True, help="A line per finished capture instead of the live view.")
def batch(manifest, out, address, workers, cpus_per_task, gpus_per_task, retries, preset, quiet):
    """Reconstruct every capture of the TOML MANIFEST on Ray, one task per capture.

    Exit status 0 when every capture is done (or was done before), 1 when any failed (see
    OUT/batch.md), 2 for a bad manifest, 130 after Ctrl-C. Rerunning resumes and skips.

    \b
    Example:
      relight batch catalogue.toml -o out/catalogue --workers 2
    """
    import os

    from relight.commands import batch as command
    from relight.commands.batching.cluster import ClusterOptions

    if gpus_per_task < 0:
        raise click.BadParameter("must be >= 0", param_hint="--gpus-per-task")
    local = address in (None, "local")
    cpus = cpus_per_task or (max(1, (os.cpu_count() or 1) // workers) if local else 2)
    opts = ClusterOptions(None if local else address, workers, cpus, gpus_per_task, retries)
    res = command.run(manifest, out, opts, preset=preset, live=not quiet, log=lambda m: click.echo(m, err=True))
    return res.exit_code
