"""The help reads as written: the typical flow stays a list, every command ends with a real example."""

import shlex

import click
import pytest
from click.testing import CliRunner

from cli.main import cli


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    """(path, command) for every command of ``group``, recursing into subgroups."""
    for name, cmd in sorted(group.commands.items()):
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))


COMMANDS = list(_commands(cli))


def _help(path) -> str:
    res = CliRunner().invoke(cli, [*path, "--help"], prog_name="relight", terminal_width=80)
    assert res.exit_code == 0, res.output
    return res.output


def _block(text: str, heading: str) -> list[str]:
    """The stripped lines of the paragraph under ``heading`` (up to the next blank line)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == heading]
    assert starts, f"no line {heading!r} in:\n{text}"
    block = []
    for line in lines[starts[0] + 1:]:
        if not line.strip():
            break
        block.append(line.strip())
    return block


def _parses(path, argv: list[str]) -> None:
    """``argv`` (the words after ``relight``) names a command and only options it knows."""
    assert argv[:len(path)] == list(path), argv
    ctx = cli.make_context("relight", [], resilient_parsing=True)
    cmd: click.Command = cli
    for name in path:
        cmd = cmd.get_command(ctx, name)  # type: ignore[union-attr]
        assert cmd is not None, name
    try:
        with cmd.make_context(" ".join(["relight", *path]), argv[len(path):], parent=ctx,
                              resilient_parsing=False):
            pass
    except click.UsageError as e:
        pytest.fail(f"'relight {shlex.join(argv)}' does not parse: {e.format_message()}")


def test_top_level_help_keeps_the_typical_flow_as_a_list():
    out = _help([])
    flow = _block(out, "Typical flow:")
    steps = [line for line in flow if line.startswith("relight ")]
    # every step on a line of its own, in the order of the pipeline
    names = [line.split()[1] for line in steps]
    assert names == ["synth", "poses", "inspect", "material", "eval", "geometry", "fit", "render", "export", "report", "view",
                     "batch"]
    # the other lines continue the description of the step above them (indented past the commands)
    raw = out.split("Typical flow:\n")[1].split("\n\n")[0].splitlines()
    indent = len(raw[0]) - len(raw[0].lstrip())
    assert all(len(r) - len(r.lstrip()) > indent for r in raw if not r.strip().startswith("relight "))
    assert _block(out, "Everything at once:")[0].startswith("relight demo ")
    for line in steps:
        argv = shlex.split(line.split("  ")[0])[1:]
        _parses((argv[0],), argv)


def test_every_command_is_covered():
    names = {path[0] for path, _ in COMMANDS}
    assert {"synth", "scenes", "poses", "inspect", "material", "eval", "geometry", "fit", "render", "export",
            "report", "view", "demo"} <= names


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_ends_with_a_real_example(path, cmd):
    out = _help(path)
    description = out.split("\nOptions:")[0]
    example = _block(description, "Example:")
    assert len(example) == 1, f"one example expected:\n{out}"
    line = example[0]
    assert line.startswith(f"relight {' '.join(path)}"), line
    # the example is the last thing the description says
    assert description.rstrip().endswith(line), out
    _parses(path, shlex.split(line)[1:])


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_example_options_exist(path, cmd):
    """Every option word in the example is one of the command's declared options."""
    line = _block(_help(path).split("\nOptions:")[0], "Example:")[0]
    known = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}
    used = [w for w in shlex.split(line) if w.startswith("-")]
    assert used or not [p for p in cmd.params if p.required and isinstance(p, click.Option)]
    for w in used:
        assert w.split("=")[0] in known, f"{w} is not an option of relight {' '.join(path)}"
