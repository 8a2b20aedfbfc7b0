"""Options shared by several commands."""

import click

device_option = click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
    help="Compute device: cuda (Mitsuba cuda_ad_rgb + nvdiffrast), cpu (llvm_ad_rgb), or auto.")
