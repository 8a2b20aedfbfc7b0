"""The benches' result rows: one JSON object a line in ``results/<bench>.jsonl``, appended as each
run ends and read back whole to rewrite the bench's markdown table."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def append_row(path: str | Path, row: dict) -> None:
    """Append ``row`` to the JSON-lines file ``path``."""
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def read_rows(path: str | Path) -> list[dict]:
    """Every row of the JSON-lines file ``path`` (blank lines skipped)."""
    return [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]


def rewrite_markdown(out: Path, markdown: Callable[[list[dict]], str]) -> None:
    """Rewrite a bench's ``<out>.md`` from every row of its ``<out>.jsonl`` (``out`` without suffix)."""
    out.with_suffix(".md").write_text(markdown(read_rows(out.with_suffix(".jsonl"))))
