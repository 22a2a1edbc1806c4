"""The versions every artifact records (read from the installed packages' metadata, nothing imported)."""

from __future__ import annotations

from importlib import metadata


def versions() -> dict[str, str | None]:
    """torch, numpy and lenet-parity as installed; None for one that is not."""
    found = {}
    for name in ("torch", "numpy", "lenet-parity"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found
