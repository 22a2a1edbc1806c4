"""The golden files' bytes at the start of a run: a file changed during the run (by a layer running without the
sandbox?) is put back from those bytes and named, so no later run believes a damaged Phase 0 or weights file.
The run itself never reads them again (lenet_parity/golden_pins.py serves them from memory)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lenet_parity.atomic import atomic_write_bytes


class GoldenWatch:
    def __init__(self, *paths: str | Path):
        self.saved = {Path(p): Path(p).read_bytes() for p in paths if Path(p).is_file() and not Path(p).is_symlink()}
        self.restored: list[Path] = []  # every file put back so far
        self.blocked: dict[Path, str] = {}  # files that could not be put back, and why (nothing was deleted)

    def restore_changed(self) -> list[Path]:
        """The watched files whose bytes changed (or vanished) since the start or the last call, each restored;
        a directory put in a file's place is left alone (its content may be someone's) and named in ``blocked``."""
        changed = []
        for path, data in self.saved.items():
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                mode = None
            except OSError as exc:
                self.blocked[path] = f"cannot be read ({exc.strerror})"
                continue
            if mode is not None and stat.S_ISDIR(mode):
                self.blocked[path] = "a directory was put in its place; remove it and reinstall lenet-parity"
                continue
            try:
                if mode is not None and stat.S_ISREG(mode) and path.read_bytes() == data:
                    continue
                atomic_write_bytes(path, data)  # a symlink in its place is replaced, its target untouched
            except OSError as exc:
                self.blocked[path] = f"cannot be restored ({exc.strerror})"
                continue
            changed.append(path)
        self.restored += changed
        return changed
