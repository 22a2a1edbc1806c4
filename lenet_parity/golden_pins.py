"""Golden files read once, before any user code runs, and used from memory; the shipped ones checked against the
seals recorded in the package's code.

``pinned(paths)`` reads each golden file (a regular file, valid JSON), then, until the block ends, every
``read_document`` of those paths verifies and returns the document read at the start (its seal right and, at a
shipped file's place, the seal this lenet-parity shipped): a file rewritten during the run (by a layer outside the
sandbox?) changes nothing in it. ``record_shipped`` is how `make weights` and `make phase0` update the seals.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Iterator

from lenet_parity.errors import UserInputError

_DIGESTS_FILE = Path(__file__).with_name("golden_digests.py")
_in_memory: dict[str, dict[str, Any]] = {}  # realpath -> the document read at the start of the pinned block


def _key(path: str | os.PathLike) -> str:
    return os.path.realpath(path)


def _place(path: str | os.PathLike) -> str:
    """Where a path points without following its last component (a symlink at a shipped place is that place)."""
    path = os.fspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path) or "."), os.path.basename(path))


def shipped_places() -> dict[str, str]:
    """realpath of each shipped golden file -> its name in golden_digests.SHIPPED."""
    from lenet_parity.vocabulary import SHIPPED_GOLDEN_FILES

    return {_place(p): p.name for p in SHIPPED_GOLDEN_FILES}


def shipped_seal(path: str | os.PathLike) -> str | None:
    """The seal the file at this shipped place must have; None for a file elsewhere (the user's own)."""
    from lenet_parity.golden_digests import SHIPPED

    name = shipped_places().get(_place(path))
    return SHIPPED.get(name) if name else None


def read_bytes(path: Path, hint: str) -> bytes:
    """A golden file's bytes; a directory, a FIFO, a device, or at a shipped place a symlink: one line of bad input."""
    shipped = _place(path) in shipped_places()
    try:
        if shipped and path.is_symlink():
            raise UserInputError(f"{path}: a symbolic link in the place of a shipped golden file; remove it and "
                                 f"reinstall lenet-parity ({hint})")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (os.O_NOFOLLOW if shipped else 0))
    except FileNotFoundError:
        raise UserInputError(f"{path}: file not found ({hint})") from None
    except IsADirectoryError:
        raise UserInputError(f"{path}: a directory, not a golden file ({hint})") from None
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read ({exc.strerror}); {hint}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, a device?)"
        raise UserInputError(f"{path}: {what}, not a golden file ({hint})")
    with os.fdopen(fd, "rb") as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise UserInputError(f"{path}: cannot read ({exc.strerror}); {hint}") from None


def in_memory(path: str | os.PathLike) -> dict[str, Any] | None:
    """The document pinned for this path, if a pinned block read it."""
    return _in_memory.get(_key(path))


@contextlib.contextmanager
def pinned(*paths: str | os.PathLike | None) -> Iterator[None]:
    """Read the golden files that exist among ``paths`` now; serve them from memory until the end (each is
    verified by read_document when used, on the bytes read here)."""
    from lenet_parity.golden import parse

    added = []
    try:
        for path in paths:
            if path is None or not os.path.lexists(path) or _key(path) in _in_memory:
                continue
            path = Path(path)  # its kind, version and seals are checked by read_document, on these bytes
            hint = "rebuild it (make weights, make phase0) or reinstall lenet-parity"
            document = parse(path, read_bytes(path, hint), hint=hint)
            _in_memory[_key(path)] = document
            added.append(_key(path))
        yield
    finally:
        for key in added:
            _in_memory.pop(key, None)


def record_shipped(path: str | os.PathLike, seal: str) -> None:
    """After a golden file was written at its shipped place: record its seal in golden_digests.py."""
    from lenet_parity.atomic import atomic_write_text
    from lenet_parity.golden_digests import SHIPPED

    name = shipped_places().get(_place(path))
    if name is None or SHIPPED.get(name) == seal:
        return
    seals = {**SHIPPED, name: seal}
    text = _DIGESTS_FILE.read_text()
    head = text[:text.index("SHIPPED = {")]
    body = "".join(f"    {json.dumps(k)}: {json.dumps(v)},\n" for k, v in sorted(seals.items()))
    atomic_write_text(_DIGESTS_FILE, f"{head}SHIPPED = {{\n{body}}}\n")
    SHIPPED.update(seals)
