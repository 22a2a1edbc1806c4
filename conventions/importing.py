"""Importing a user's code as pytest would: a file with its package root on ``sys.path`` (so
``common/layers.py`` importing ``common.util`` works), a folder as one submission whose modules import each
other, or a module by name. Returns what the modules define and which modules are the user's."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

SKIPPED = ("setup.py", "conftest.py")  # files of a folder that are not layers (nor their helpers)


def import_user_code(cwd: Path, target: str) -> tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]:
    """The names the user's module(s) define or import, the names of the user's own modules, and of those among
    them that were named (the file given, or a folder's files): what they define comes first."""
    path = Path(cwd, target)
    if path.is_dir():
        files = sorted(f for f in path.rglob("*.py") if _is_source(f, path))
        if not files:
            raise LookupError(f"{target}: a folder without a .py file")
        roots = {path.resolve()}
    elif target.endswith(".py") or "/" in target:
        files = [path]
        roots = {path.resolve().parent}
    else:
        sys.path.insert(0, str(cwd))  # like python -m: modules of the checker's current directory
        module = importlib.import_module(target)
        return dict(vars(module)), (module.__name__,), (module.__name__,)
    namespace: dict[str, Any] = {}
    named = []
    for file in files:
        module = _import_file(file)
        named.append(module.__name__)
        for name, value in vars(module).items():
            namespace.setdefault(name, value)
    own = tuple(name for name, module in list(sys.modules.items())
                if _inside(getattr(module, "__file__", None), roots))
    return namespace, own, tuple(named)


def _is_source(file: Path, folder: Path) -> bool:
    parts = file.relative_to(folder).parts
    if any(part.startswith((".", "__pycache__")) for part in parts):
        return False
    name = file.name
    return name not in SKIPPED and not name.startswith("test_") and not name.endswith("_test.py")


def _import_file(file: Path) -> Any:
    """The module of ``file``, imported under its dotted name from its package root (pytest's rootdir-less
    ``prepend`` import), or under a private name when that name is taken (a file called numpy.py)."""
    file = file.resolve()
    root, parts = file.parent, [file.stem]
    while (root / "__init__.py").is_file():
        parts.insert(0, root.name)
        root = root.parent
    if parts[-1] == "__init__":
        parts.pop()
    dotted = ".".join(parts)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    existing = sys.modules.get(dotted)
    if existing is None and dotted:
        existing = importlib.import_module(dotted)  # the user's own errors (a SyntaxError ...) go up as they are
    if existing is not None and _inside(getattr(existing, "__file__", None), {root}):
        return existing
    spec = importlib.util.spec_from_file_location(f"_lenet_parity_impl_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _inside(file: str | None, roots: set[Path]) -> bool:
    if not file:
        return False
    resolved = os.path.realpath(file)
    return any(resolved.startswith(str(root) + os.sep) for root in roots)
