"""The ``relight`` command: a Click group whose commands each call one library function.

Errors from bad input (:class:`relight.runtime.errors.RelightError`) print one line and exit 2.
"""

from __future__ import annotations

import gc
import shlex
import signal
import sys
import threading

import click

from cli import (
    batch,
    demo,
    export,
    fit,
    geometry,
    inspect,
    material,
    poses,
    render,
    report,
    scenes,
    synth,
    view,
)
from cli import eval as eval_
from relight import __version__
from relight.runtime.errors import EXIT_USAGE, RelightError
from relight.runtime.interrupt import Interrupted


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="relight")
def cli():
    """relight: from posed photos to a relightable asset (mesh + PBR textures + HDR envmap).

    \b
    Everything at once:
      relight demo -o out/demo   synth -> fit -> render -> export -> report

    \b
    Typical flow:
      relight synth spot -o out/spot               ground-truth capture of a scene
      relight poses PHOTOS -o out/obj              camera poses of your photos (SfM)
      relight inspect out/spot                     read and summarise a capture
      relight material out/spot --mesh out/spot/gt/mesh.obj -o out/spot_asset
                                                   fit textures + envmap on a mesh
      relight eval out/spot_asset out/spot         metrics against ground truth
      relight geometry out/spot -o out/spot_geo    mesh from masks + images
      relight fit out/spot -o out/spot_fit         geometry -> UVs -> material
      relight render out/spot_fit --envmap scenes/envmaps/forest.exr -o out/relit
                                                   renders under another envmap
      relight export out/spot_fit -o out/spot.glb  glTF 2.0 binary (or .obj)
      relight report out/spot_fit --capture out/spot -o out/spot_report
                                                   one HTML page about the asset
      relight view out/spot_fit                    interactive viewer on 127.0.0.1
      relight batch catalogue.toml -o out/cat      many captures at once, on Ray
    """


for _cmd in (synth.synth, scenes.scenes, poses.poses, inspect.inspect_capture, material.material, eval_.evaluate_cmd,
             geometry.geometry, fit.fit, render.render, export.export, report.report, view.view, demo.demo,
             batch.batch):
    cli.add_command(_cmd)


def _terminate(signum, frame):
    """SIGTERM outside the fit loops: stop like Ctrl-C, so temporary outputs are removed."""
    raise KeyboardInterrupt


def _caused_by_interrupt(e: BaseException) -> bool:
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _resume_command(args: list[str]) -> str:
    return shlex.join(["relight", *args, *([] if "--resume" in args else ["--resume"])])


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the group, turning input errors into one-line messages."""
    args = sys.argv[1:] if argv is None else list(argv)
    code = None
    old_term = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() else None
    try:
        try:
            bad = next((a for a in args if "\x00" in a), None)
            if bad is not None:
                raise RelightError(f"the argument {bad!r} contains a NUL byte", fix="pass plain paths and values")
            rc = cli.main(args=args, prog_name="relight", standalone_mode=False)
        except click.exceptions.Abort as e:  # click wraps Ctrl-C (KeyboardInterrupt) into Abort
            raise (e.__cause__ if isinstance(e.__cause__, KeyboardInterrupt) else e) from None
        except Exception as e:  # Dr.Jit (RuntimeError) or an import (SystemError) wraps a Ctrl-C/SIGTERM
            if _caused_by_interrupt(e):
                raise KeyboardInterrupt from None
            raise
    except RelightError as e:
        click.echo(f"error: {e.one_line()}", err=True)
        code = EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        code = 130
    except click.UsageError as e:  # bad option / argument: one line, not click's usage block
        where = e.ctx.command_path if e.ctx else "relight"
        click.echo(f"error: {e.format_message().rstrip('.')} — fix: see '{where} --help'", err=True)
        code = EXIT_USAGE
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        code = e.exit_code
    except Interrupted as e:
        hint = f"; continue with: {_resume_command(args)}" if e.checkpoint else ""
        click.echo(f"interrupted: {e}{hint}", err=True)
        code = 130
    except KeyboardInterrupt:
        if args and args[0] == "batch":
            click.echo("interrupted: unfinished captures keep their checkpoints (OUT/batch.md); continue with the "
                       f"same command: {shlex.join(['relight', *args])}", err=True)
        elif args and args[0] in ("fit", "geometry", "material"):
            click.echo("interrupted: the last periodic checkpoint is kept; continue with: "
                       f"{_resume_command(args)}", err=True)
        else:
            click.echo("interrupted", err=True)
        code = 130
    except click.exceptions.Exit as e:
        code = e.exit_code
    except RecursionError:  # a parser (JSON, TOML, OBJ) met input nested deeper than the stack
        click.echo("error: an input file is nested too deeply to read — fix: check the JSON/TOML files "
                   "passed to this command (a damaged or hostile file?)", err=True)
        code = EXIT_USAGE
    except MemoryError:
        click.echo("error: out of memory — fix: lower the image size (--downscale), batch or spp, and see "
                   "--max-memory (it refuses runs estimated not to fit)", err=True)
        code = EXIT_USAGE
    except OSError as e:  # disk full, permissions, vanished files: the environment, not a bug
        where = f"{e.filename}: " if e.filename else ""
        click.echo(f"error: {where}{e.strerror or e} — fix: check free disk space, permissions and the path",
                   err=True)
        code = EXIT_USAGE
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    if code is not None:
        # leave the except blocks first: their tracebacks keep Mitsuba/cholespy objects alive,
        # which nanobind would report as leaks at exit
        gc.collect()
        sys.exit(code)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
