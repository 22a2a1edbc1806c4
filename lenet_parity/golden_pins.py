"""Golden files read once, before any user code runs, and used from memory; the shipped ones checked against the
seals recorded in the package's code.

``pinned(paths)`` reads each golden file (a regular file, valid JSON), then, until the block ends, every
``read_document`` of those paths verifies and returns the document read at the start (its seal right and, at a
shipped file's place, the seal this lenet-parity shipped): a file rewritten during the run (by a layer outside the
sandbox?) changes nothing in it. ``record_shipped`` is how `make weights` and `make phase0` update the seals.

A process that pins the same files again (grading: once per submission) reuses what it read and verified the last
time while the file's status (inode, size, modification and change times) is the same: parsing and sealing Phase 0
took 0.14 s of every submission's grading. Any write to the file changes its change time, so it is read again.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

from lenet_parity.errors import UserInputError

_DIGESTS_FILE = Path(__file__).with_name("golden_digests.py")
_in_memory: dict[str, dict[str, Any]] = {}  # realpath -> the document read at the start of the pinned block
_read_before: OrderedDict[str, tuple[tuple[int, ...], dict[str, Any]]] = OrderedDict()  # realpath -> (its status
# when read, the document), for the next pinned block of this process; the last few files only
_KEPT = 4  # files whose documents stay between pinned blocks: the shipped ones
_verified: dict[str, int] = {}  # realpath -> id() of the kept document read_document verified there


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
    verified by read_document when used, on the bytes read here, or read by an earlier block of this process from
    the file as it still is)."""
    from lenet_parity.golden import parse

    added = []
    try:
        for path in paths:
            if path is None or not os.path.lexists(path) or _key(path) in _in_memory:
                continue
            path, key = Path(path), _key(path)  # its kind, version and seals are checked by read_document
            status = _status(path)
            if status is not None and key in _read_before and _read_before[key][0] == status:
                _read_before.move_to_end(key)
                document = _read_before[key][1]
            else:
                hint = "rebuild it (make weights, make phase0) or reinstall lenet-parity"
                document = parse(path, read_bytes(path, hint), hint=hint)
                _keep(key, status, document)
            _in_memory[key] = document
            added.append(key)
        yield
    finally:
        for key in added:
            _in_memory.pop(key, None)


def _status(path: Path) -> tuple[int, ...] | None:
    """What changes whenever the file is written or replaced (a change time cannot be set back); None: unknown."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns


def _keep(key: str, status: tuple[int, ...] | None, document: dict[str, Any]) -> None:
    _read_before.pop(key, None)
    _verified.pop(key, None)
    if status is None:
        return
    _read_before[key] = (status, document)
    while len(_read_before) > _KEPT:
        dropped, _ = _read_before.popitem(last=False)
        _verified.pop(dropped, None)


def verified_before(path: str | os.PathLike, document: dict[str, Any]) -> bool:
    """Whether read_document already verified this very document (one kept between pinned blocks) at this path."""
    return _verified.get(_key(path)) == id(document) and _read_before.get(_key(path), (None, None))[1] is document


def remember_verified(path: str | os.PathLike, document: dict[str, Any]) -> None:
    """After read_document verified a pinned document: the next block need not seal it again."""
    key = _key(path)
    if _read_before.get(key, (None, None))[1] is document:
        _verified[key] = id(document)


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
