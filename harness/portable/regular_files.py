"""``cases check`` opens only regular files of the export folder: ``stat`` first, then open.

A FIFO blocks ``open()`` until someone writes to it (forever), a device or a folder is no input or answer, and a
symbolic link can lead out of the folder; each is refused by name, one line and exit 2.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lenet_parity.errors import UserInputError

_NOT_REGULAR = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"))


def regular_file(path: Path, folder: Path) -> bool:
    """True if ``path`` is a regular file inside ``folder`` (symbolic links followed), False if there is none;
    anything else is bad input that names what the path is."""
    try:
        info = os.stat(path)  # what open() would open: a link's target
    except (FileNotFoundError, NotADirectoryError):
        if os.path.islink(path):
            raise UserInputError(f"cases check: {path} is a symbolic link to nothing, not a regular file") from None
        return False
    except OSError as exc:
        raise UserInputError(f"cases check: {path} cannot be examined ({exc.strerror or exc})") from None
    target = Path(os.path.realpath(path))
    if not target.is_relative_to(Path(os.path.realpath(folder))):
        raise UserInputError(f"cases check: {path} is a symbolic link to {target}, outside {folder}: copy the file "
                             f"in, or export again")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for is_kind, name in _NOT_REGULAR if is_kind(info.st_mode)), "a special file")
        raise UserInputError(f"cases check: {path} is {kind}, not a regular file")
    return True
