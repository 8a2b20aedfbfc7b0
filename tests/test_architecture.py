"""The tree reads as the pipeline: no import cycles, and each package imports only the layers
below it (the rule in relight/__init__.py). The graph is built from the source, function-level
imports included, so a cycle cannot hide behind a late import."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "relight"

ALLOWED = {  # package -> the relight packages it may import (besides itself)
    "runtime": set(),
    "data": {"runtime"},
    "render": {"data", "runtime"},
    "geometry": {"data", "runtime"},
    "capture": {"data", "runtime"},
    "material": {"render", "data", "runtime"},
    "evaluation": {"geometry", "render", "data", "runtime"},
    "export": {"render", "data", "runtime"},
    "commands": {"export", "evaluation", "material", "geometry", "capture", "render", "data", "runtime"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> relight modules it imports (anywhere in the file)."""
    modules = {module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for t in targets:
                if t in modules and t != name and t.startswith("relight."):
                    deps.add(t)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (c := visit(d)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_the_graph_is_read_from_the_source():
    g = import_graph()
    assert "relight.material.fit" in g and "relight.runtime.loop" in g["relight.material.fit"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles():
    assert find_cycle(import_graph()) is None


def test_packages_import_only_the_layers_below():
    bad = []
    for mod, deps in import_graph().items():
        parts = mod.split(".")
        if len(parts) < 3:  # relight/__init__.py
            continue
        for d in deps:
            dp = d.split(".")
            if len(dp) >= 2 and dp[1] != parts[1] and dp[1] not in ALLOWED[parts[1]]:
                bad.append(f"{mod} -> {d}")
    assert not bad, bad


def test_every_package_says_what_it_holds_and_may_import():
    for init in PKG.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "May import" in doc, init
        assert init.parent.name in ALLOWED, init


def test_cli_files_are_named_after_their_commands():
    from cli.main import cli

    files = {p.stem for p in (ROOT / "cli").glob("*.py")} - {"__init__", "main", "options"}
    assert files == set(cli.commands), (files, set(cli.commands))
    assert files <= {p.stem for p in (PKG / "commands").glob("*.py")}
