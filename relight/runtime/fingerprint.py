"""Fingerprints of a run's inputs, stored in its checkpoints: ``--resume`` continues only the run
that wrote them, never a mix of two captures, meshes or settings."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from relight import __version__
from relight.runtime.errors import RelightError


def folder_fingerprint(root: Path) -> str:
    """Digest of every regular file under ``root`` (relative path, size, modification time;
    hidden names skipped): a changed, added or removed frame changes it, reading nothing."""
    h = hashlib.sha256()
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            st = p.stat()
            h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def file_fingerprint(path: Path) -> str:
    """Digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def run_fingerprint(**parts) -> dict:
    """The fingerprint a checkpoint records: ``parts`` (e.g. ``capture=folder_fingerprint(...)``,
    load options) plus the relight version."""
    return {**parts, "relight": __version__}


def check_fingerprint(saved: dict | None, current: dict | None, path: Path) -> None:
    """Refuse to resume from a checkpoint whose inputs differ from this run's, saying which."""
    if current is None:
        return
    if saved is None:
        raise RelightError("checkpoint records no inputs (written by an older relight)", path=path,
                           fix="start afresh without --resume")
    differ = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if differ:
        raise RelightError(f"checkpoint was written for other inputs ({', '.join(differ)} differ)", path=path,
                           fix="resume with the same capture, mesh and options, or start afresh without --resume")
