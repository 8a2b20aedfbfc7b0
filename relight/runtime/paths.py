"""Safe file handling: paths inside a capture may not escape it; outputs appear atomically."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from relight.runtime.errors import RelightError


def resolve_inside(root: Path, rel: str, what: str, source: Path) -> Path:
    """Resolve ``rel`` (as written in ``source``) against ``root``, refusing escapes.

    Absolute paths, ``..`` components that leave ``root`` and symlinks pointing outside it are
    rejected with a :class:`RelightError` naming ``source``.
    """
    if not isinstance(rel, str) or not rel:
        raise RelightError(f"{what} must be a non-empty relative path string, got {rel!r}",
                           path=source, fix="write paths relative to the capture folder")
    if "\x00" in rel:
        raise RelightError(f"{what} {rel!r} contains a NUL byte", path=source,
                           fix="write plain relative file paths")
    if os.path.isabs(rel) or rel.startswith("~"):
        raise RelightError(f"{what} '{rel}' is an absolute path", path=source,
                           fix="write paths relative to the capture folder")
    root_real = Path(os.path.realpath(root))
    p = Path(os.path.realpath(root / rel))
    if p != root_real and root_real not in p.parents:
        raise RelightError(f"{what} '{rel}' points outside the capture folder", path=source,
                           fix="keep every file inside the capture folder (no '..' or symlinks out)")
    return p


def read_json(path: Path) -> Any:
    """Parse a JSON file, turning every failure into a one-line :class:`RelightError`."""
    path = Path(path)
    if not path.is_file():
        raise RelightError("file not found", path=path, fix="check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RelightError(f"cannot read file ({e.__class__.__name__})", path=path,
                           fix="check permissions and that it is UTF-8 text") from None
    if not text.strip():
        raise RelightError("file is empty", path=path, fix="write valid JSON into it")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RelightError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}", path=path,
                           fix="fix the JSON syntax") from None
    except RecursionError:
        raise RelightError("JSON nested too deeply to read", path=path,
                           fix="flatten the file (a damaged or hostile file?)") from None


def is_finite_number(v: Any) -> bool:
    """True for a JSON/TOML number that is finite (bools, strings, NaN and Inf are not)."""
    return not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(Path(path), json.dumps(data, indent=2) + "\n")


def write_checkpoint(folder: Path, stem: str, arrays: dict, meta: dict) -> None:
    """Atomically write the checkpoint ``stem.npz``: the arrays plus ``meta`` (JSON, stored in the
    same file as a byte array) go to a temporary file that is flushed to disk and renamed over
    the old one, so a kill at any moment leaves either the previous or the new checkpoint, never
    a torn or mismatched one. ``stem.json`` is a human-readable copy of ``meta``. No pickle."""

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    blob = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    tmp = folder / f"{stem}.tmp.npz"
    with open(tmp, "wb") as f:
        np.savez(f, __meta__=blob, **arrays)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(folder / f"{stem}.npz")
    write_text_atomic(folder / f"{stem}.json", json.dumps(meta, indent=1))


def read_checkpoint(folder: Path, stem: str) -> tuple[dict, dict]:
    """``(arrays, meta)`` of a checkpoint written by :func:`write_checkpoint`.

    Raises a one-line :class:`RelightError` when there is none or it is damaged.
    """


    path = Path(folder) / f"{stem}.npz"
    if not path.is_file():
        raise RelightError("no checkpoint to resume from", path=path.parent, fix="run without --resume")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k].copy() for k in z.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise RelightError(f"checkpoint is damaged ({type(e).__name__})", path=path,
                           fix="run again without --resume to start afresh") from None
    return arrays, meta


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file through a temporary sibling and a rename (never half-written)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_output_dir(out: Path, overwrite: bool) -> None:
    """Refuse an existing non-empty output folder unless ``overwrite``, and a location where
    nothing can be written (checked up front, so a long run does not fail at its very end)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise RelightError("output already exists", path=out,
                           fix="choose another -o folder or pass --overwrite")
    check_writable(out)


def check_writable(out: Path) -> None:
    """Probe the nearest existing ancestor of ``out`` with a throw-away folder (leaves nothing)."""
    anc = Path(os.path.abspath(out)).parent
    while not anc.exists():
        anc = anc.parent
    try:
        if not anc.is_dir():
            raise NotADirectoryError(f"{anc} is a file")
        os.rmdir(tempfile.mkdtemp(prefix=".relight-probe-", dir=anc))
    except OSError as e:
        raise RelightError(f"cannot write here ({e.strerror or e})", path=out,
                           fix="choose a writable -o location") from None


@contextmanager
def atomic_dir(out: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``out`` in one rename.

    On any exception (or Ctrl-C) the temporary folder is removed and ``out`` is untouched, so a
    half-written output never appears under the requested name.
    """
    out = Path(out)
    check_output_dir(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    os.chmod(tmp, umask_mode())  # mkdtemp's 0700 would outlive the rename: follow the umask
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
    else:
        os.replace(tmp, out)


def check_output_name(out: Path) -> None:
    """Refuse output paths no file system takes or that name no new entry: NUL bytes, an empty
    or ``.``/``..`` last component, or a name longer than the file system allows (checked before
    the run, not after it)."""
    text = os.fspath(out)
    if "\x00" in text:
        raise RelightError("the output path contains a NUL byte", path=repr(text),
                           fix="choose a plain output path")
    name = Path(text).name
    if not text.strip() or not name or name in (".", "..") or text.rstrip().endswith(("/.", "/..")):
        raise RelightError("the output needs a name of its own, not a folder reference", path=text or "''",
                           fix="name a new folder or file, e.g. -o out/result")
    anc = Path(os.path.abspath(text)).parent
    while not anc.exists():
        anc = anc.parent
    try:
        limit = os.pathconf(anc, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    longest = len(os.fsencode(name))
    # the atomic writers add up to ~30 characters (".NAME.tmp-XXXXXXXX", ".NAME.ckpt", ".NAME.lock")
    if longest + 30 > limit:
        raise RelightError(f"the output name is {longest} bytes long; this file system allows "
                           f"{limit} and relight needs 30 more for its temporary names", path=text[:60] + "…",
                           fix="choose a shorter output name")


def overlaps(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` (symlinks resolved) are the same path or one contains the other."""
    ra, rb = Path(os.path.realpath(a)), Path(os.path.realpath(b))
    return ra == rb or ra in rb.parents or rb in ra.parents


def check_disjoint(out: Path, inputs, flag: str = "-o") -> None:
    """Refuse an output equal to, inside or containing any of ``inputs`` (symlinks resolved):
    writing it, or replacing it with ``--overwrite``, would destroy an input."""
    for inp in inputs:
        if inp is not None and overlaps(out, inp):
            raise RelightError(f"the output overlaps the input {inp} (the same path, inside it or around it)",
                               path=out, fix=f"write {flag} somewhere else: no command writes over its inputs")


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside ``out`` while a command writes it; a second run with the same
    output is refused with the holder's PID.

    The lock is the kernel's (``flock``) on that file, not the file's existence: it goes with its
    process however that ends (no stale locks to judge by PID, which a reused PID would fool), and
    there is no moment in which a second run sees the file but not its holder. Folders above
    ``out`` that do not exist yet are made here, so that every run with this output meets the same
    lock file, and removed again (when still empty) if the run fails."""
    import fcntl  # POSIX; relight runs on Linux and macOS

    out = Path(out)
    made = _make_parents(out)
    lock = out.parent / f".{out.name}.lock"
    try:
        fd = _take_lock(lock, fcntl, out)
    except BaseException:
        _remove_empty(made)
        raise
    try:
        yield
    except BaseException:
        _release(lock, fd)
        _remove_empty(made)
        raise
    _release(lock, fd)


def _take_lock(lock: Path, fcntl, out: Path) -> int:
    """Open ``lock`` and take its ``flock`` without waiting; the file descriptor, with this PID written."""
    while True:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: say by whom
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RelightError(f"another relight run (PID {holder}) is writing this output", path=out,
                               fix="wait for it to finish, or choose another -o") from None
        try:  # its last holder may have removed the file between our open and our lock: start again
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _release(lock: Path, fd: int) -> None:
    """Remove the lock file while still holding it, then let go (a run that opened the old file
    meanwhile finds it gone and makes a new one)."""
    lock.unlink(missing_ok=True)
    os.close(fd)


def _make_parents(out: Path) -> list[Path]:
    """``mkdir -p`` the folder holding ``out``; the folders it made, deepest first."""
    missing, folder = [], out.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    try:
        for f in reversed(missing):
            f.mkdir(exist_ok=True)
    except OSError as e:
        _remove_empty(missing)
        raise RelightError(f"cannot write here ({e.strerror or e})", path=out,
                           fix="choose a writable -o location") from None
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty (another run may be using one)."""
    for f in folders:
        try:
            f.rmdir()
        except OSError:
            return


def umask_mode(mode: int = 0o777) -> int:
    """``mode`` with the process umask applied (what ``mkdir`` would give)."""
    m = os.umask(0)
    os.umask(m)
    return mode & ~m
