"""The golden files' bytes at the start of a run: a file changed during the run (by a layer under test?) is
put back from those bytes and named, so no later run believes a damaged Phase 0 or weights file."""

from __future__ import annotations

from pathlib import Path

from lenet_parity.atomic import atomic_write_bytes


class GoldenWatch:
    def __init__(self, *paths: str | Path):
        self.saved = {Path(p): Path(p).read_bytes() for p in paths if Path(p).is_file()}
        self.restored: list[Path] = []  # every file put back so far

    def restore_changed(self) -> list[Path]:
        """The watched files whose bytes changed (or vanished) since the start or the last call, each restored."""
        changed = []
        for path, data in self.saved.items():
            try:
                unchanged = path.is_file() and path.read_bytes() == data
            except OSError:
                unchanged = False
            if not unchanged:
                atomic_write_bytes(path, data)
                changed.append(path)
        self.restored += changed
        return changed
