"""Options shared by several commands."""

import math

import click


class FiniteFloat(click.ParamType):
    """A float option that refuses nan and inf (click's float takes them)."""

    name = "float"

    def convert(self, value, param, ctx):
        x = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return x


FINITE = FiniteFloat()

device_option = click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
    help="Compute device: cuda (Mitsuba cuda_ad_rgb + nvdiffrast), cpu (llvm_ad_rgb), or auto.")


def _size(ctx, param, value):
    if value is None or value == "auto":
        return None
    from relight.runtime.errors import RelightError
    from relight.runtime.resources import parse_size

    try:
        return parse_size(value)
    except RelightError as e:
        raise click.BadParameter(e.problem) from None


max_memory_option = click.option(
    "--max-memory", metavar="SIZE", default=None, callback=_size,
    help="Refuse to start when the estimated peak memory exceeds SIZE (e.g. 8G, 512M; default: the "
         "available RAM). Renders on CUDA are split into sample passes to fit.")


def reporter(quiet: bool):
    """The progress reporter of a command: rich progress bars, or nothing with ``--quiet``."""
    from relight.runtime.progress import Reporter, RichReporter

    return Reporter() if quiet else RichReporter()


_stage = [
    click.option("--preset", type=click.Choice(["fast", "quality"]), default=None,
                 help="Settings preset (default: fast on CPU, quality on CUDA)."),
    click.option("--resume", is_flag=True, help="Continue from the last checkpoint of this output."),
    click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists."),
    click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
    device_option,
    max_memory_option,
]


def stage_options(f):
    """The options ``relight geometry`` and ``relight fit`` share."""
    for opt in reversed(_stage):
        f = opt(f)
    return f
