"""Atomic file writes: write to a temporary file beside the target, then rename.

An interrupted run never leaves a half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _is_stream(path: str | os.PathLike) -> bool:
    """A device or pipe, possibly behind symlinks (``/dev/stdout``): written directly, never replaced."""
    path = Path(path)
    return path.exists() and not path.is_file() and not path.is_dir()  # exists() and is_*() follow symlinks


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file for writing; on success it replaces ``path`` in one rename.

    A symlink is written through (its target is replaced, the link stays); a device or pipe (``/dev/stdout``)
    is written directly: there is no file to replace.
    """
    if _is_stream(path):
        with open(path, mode, **kwargs) as handle:
            yield handle
        return
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would make artifacts private
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def replace_folder(target: Path, files: dict[str, bytes]) -> Path:
    """``target`` holding exactly ``files`` (relative path -> bytes), swapped in whole: built under a scratch name
    beside it, then renamed over the old one, so no half-written folder is ever seen at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        scratch.chmod(0o777 & ~umask)  # mkdtemp's 0700 would hide the folder from a program run as another user
        for name, data in files.items():
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            (scratch / name).write_bytes(data)
        old = scratch.with_name(scratch.name + "-old")
        if target.exists():
            target.rename(old)
        scratch.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def safe_name(text: str) -> str:
    """A file name made from any text (a path, MODULE:CLASS, a student's name): letters, digits, '.', '-', '_'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "unnamed"


def check_writable(path: str | os.PathLike) -> str | None:
    """None when ``path`` can be written (a file created or replaced there), else why not, before any work."""
    if _is_stream(path):
        return None if os.access(path, os.W_OK) else "it cannot be written"
    target = Path(os.path.realpath(path))
    if target.is_dir():
        return "it is a directory"
    folder = target.parent
    while not folder.exists():  # atomic_open creates the missing folders
        folder = folder.parent
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"cannot write in {folder} ({exc.strerror})"
    return None
