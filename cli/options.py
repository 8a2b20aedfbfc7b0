"""Options shared by several commands."""

import click

device_option = click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
    help="Compute device: cuda (Mitsuba cuda_ad_rgb + nvdiffrast), cpu (llvm_ad_rgb), or auto.")


def _size(ctx, param, value):
    if value is None or value == "auto":
        return None
    from relight.errors import RelightError
    from relight.resources import parse_size

    try:
        return parse_size(value)
    except RelightError as e:
        raise click.BadParameter(e.problem) from None


max_memory_option = click.option(
    "--max-memory", metavar="SIZE", default=None, callback=_size,
    help="Refuse to start when the estimated peak memory exceeds SIZE (e.g. 8G, 512M; default: the "
         "available RAM). Renders on CUDA are split into sample passes to fit.")
