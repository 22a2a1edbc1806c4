"""The folders' import directions, as each folder's __init__ docstring states them, and only the CLI uses click.

Read from the source (ast), so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast

import pytest

from conftest import ROOT

CORE = "lenet_parity"  # the shared basics: vocabulary, errors, atomic writes, golden-file encoding
FOLDERS = ("reference", "custom_layers", "conventions", "custom_lenet", "harness", "experiments", "examples")
ALLOWED = {  # folder -> the folders of ours it may import (besides itself and the core)
    CORE: set(),
    "reference": set(),
    "custom_layers": set(),
    "conventions": set(),  # the adapters around users' code: they run in the worker, beside it
    "custom_lenet": {"reference", "custom_layers", "harness.tolerances"},
    "harness": {"reference", "custom_layers", "conventions"},
    "experiments": {"reference", "harness"},
    "examples": set(),  # what a user writes (installed as lenet_parity.examples)
}
CLI = "harness/cli.py"  # mounts every command: it may import every folder
FACADES = {"lenet_parity/__init__.py": {"harness"}, "lenet_parity/testing.py": {"harness"},  # the public API
           "lenet_parity/entry.py": {"harness"}}  # the console script


def imports_of(path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, relative imports excluded (the project has none)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def folder_of(module: str) -> str | None:
    """The project folder a ``lenet_parity.*`` module lives in (None for third-party modules)."""
    parts = module.split(".")
    if parts[0] != CORE:
        return None
    return parts[1] if len(parts) > 1 and parts[1] in FOLDERS else CORE


@pytest.mark.parametrize("folder", list(ALLOWED))
def test_each_folder_imports_only_what_its_docstring_allows(folder):
    source = ROOT / folder
    bad = []
    for path in sorted(source.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative == CLI:
            continue
        for line, module in imports_of(path):
            target = folder_of(module)
            if target in (None, CORE, folder):
                continue
            allowed = ALLOWED[folder] | FACADES.get(relative, set())
            if not any(module == f"{CORE}.{a}" or module.startswith(f"{CORE}.{a}.") for a in allowed):
                bad.append(f"{relative}:{line} imports {module}")
    assert not bad, "\n".join(bad)


def test_only_the_cli_imports_click():
    users = sorted(path.relative_to(ROOT).as_posix() for folder in ALLOWED for path in (ROOT / folder).rglob("*.py")
                   if any(module == "click" or module.startswith("click.") for _, module in imports_of(path)))
    assert users == sorted([CLI, "harness/cli_gradescope.py"])  # the gradescope command group: the CLI too
