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
from typing import IO, Iterable, Iterator


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


def write_new_file(path: Path, data: bytes) -> None:
    """A file that did not exist, written with ``os.write`` until every byte is out: a full disk (ENOSPC) or a
    short write raises here, never later."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def replace_folder(target: Path, files: dict[str, bytes]) -> Path:
    """``target`` holding exactly ``files`` (relative path -> bytes), swapped in whole: built under a scratch name
    beside it, then renamed over the old one, so no half-written folder is ever seen at ``target``; on an error
    ``target`` holds what it held before."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _readable(scratch)
        for name, data in files.items():
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            write_new_file(scratch / name, data)
        old = scratch.with_name(scratch.name + "-old")
        if target.exists():
            target.rename(old)
        try:
            scratch.rename(target)
        except BaseException:
            if old.exists():
                old.rename(target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _readable(folder: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)  # mkdtemp's 0700 would hide the folder from a program run as another user


class FolderUpdate:
    """New entries for ``target`` built in a scratch folder inside it (``path``); ``commit()`` moves each of its
    top-level entries in, replacing the entry of that name whole (a sub-folder is swapped, never merged), and
    leaves the rest of ``target`` alone. Until the commit nothing in ``target`` changes; a commit that fails half
    way puts the replaced entries back; leaving the ``with`` without a commit (an error, Ctrl-C) removes the
    scratch folder, and ``target`` too when this made it: absent or as before, never half-written."""

    def __init__(self, target: str | os.PathLike):
        self.target = Path(os.path.abspath(target))
        missing = self.target
        while not missing.parent.exists():
            missing = missing.parent
        self._made = missing if not self.target.exists() else None  # the first folder this creates
        self.path: Path | None = None
        try:
            self.target.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.target))
            _readable(self.path)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> FolderUpdate:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def commit(self) -> None:
        old = Path(tempfile.mkdtemp(prefix=".replaced-", dir=self.target))
        moved: list[str] = []
        try:
            for entry in sorted(self.path.iterdir()):
                dest = self.target / entry.name
                if dest.exists() or dest.is_symlink():
                    dest.rename(old / entry.name)
                moved.append(entry.name)
                entry.rename(dest)
        except BaseException:
            for name in reversed(moved):  # undone in reverse: each entry back as it was
                dest = self.target / name
                if not (self.path / name).exists() and (dest.exists() or dest.is_symlink()):
                    _remove(dest)  # the new entry had been moved in
                if (old / name).exists() or (old / name).is_symlink():
                    (old / name).rename(dest)
            with contextlib.suppress(OSError):
                old.rmdir()  # only when every replaced entry went back: never delete the previous content
            raise
        shutil.rmtree(old, ignore_errors=True)
        self._made = None

    def close(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
        if self._made is not None:  # made here and never committed: the folders this made, if still empty
            folder = self.target
            while True:
                with contextlib.suppress(OSError):
                    folder.rmdir()
                if folder == self._made:
                    break
                folder = folder.parent


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def safe_name(text: str) -> str:
    """A file name made from any text (a path, MODULE:CLASS, a student's name): letters, digits, '.', '-', '_';
    never hidden, never read as a command's option (no leading '.' or '-')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-") or "unnamed"


def unique_names(texts: Iterable[str]) -> list[str]:
    """``safe_name`` of each text, each name once in the order given: a name taken already (ignoring case, as the
    file systems of macOS and Windows do) gets -2, -3, ...: ``jo hn``, ``jo_hn`` -> ``jo_hn``, ``jo_hn-2``."""
    taken: set[str] = set()
    names = []
    for text in texts:
        base = name = safe_name(text)
        suffix = 2
        while name.lower() in taken:
            name, suffix = f"{base}-{suffix}", suffix + 1
        taken.add(name.lower())
        names.append(name)
    return names


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
