"""A grading rubric: which layer types are graded, their points, how partial credit is given, who sees what.

A TOML file (``grade --rubric FILE``, ``gradescope build --rubric FILE``)::

    stdout_visibility = "hidden"        # the student's printed output, as Gradescope shows it
    [defaults]                          # for every graded type unless it says otherwise
    points = 10
    split = "mode"                      # type: all or nothing; mode: equal shares per mode; check: per check
    visibility = "visible"              # hidden, after_due_date, after_published, visible (Gradescope's words)
    [types.conv]
    points = 20
    split = "check"
    [types.logsoftmax]
    graded = false                      # a course without log-softmax leaves it out

Without a file: DEFAULT_RUBRIC, LeNet's seven layer types at 10 points each, shared equally by the modes
(a layer right in four of five modes gets 8 of 10), every test visible. Bad input is one line naming the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lenet_parity.errors import UserInputError
from lenet_parity.toml_file import read_toml
from lenet_parity.reference.layers import KINDS

SPLITS = ("type", "mode", "check")
CREDITED = ("passed", "warning", "unsupported")  # CheckResult.status values that earn a check's share
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")  # Gradescope's, least visible first
LENET_TYPES = ("conv", "pool", "relu", "dense", "flatten", "logsoftmax", "loss")  # what LeNet's student writes


@dataclass(frozen=True)
class TypeRule:
    points: float = 10.0
    split: str = "mode"
    visibility: str = "visible"


@dataclass(frozen=True)
class Rubric:
    types: dict[str, TypeRule] = field(default_factory=lambda: {k: TypeRule() for k in LENET_TYPES})  # graded, in order
    stdout_visibility: str = "hidden"
    source: str = "the default rubric"  # the file it was read from

    @property
    def max_points(self) -> float:
        return sum(rule.points for rule in self.types.values())

    def digest(self) -> str:
        """What a regrade compares: the rules, not the file's bytes (comments and order change nothing)."""
        rules = {k: asdict(v) for k, v in self.types.items()}
        text = json.dumps({"types": rules, "stdout_visibility": self.stdout_visibility}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


DEFAULT_RUBRIC = Rubric()


def points_earned(rule: TypeRule, results: list[Any]) -> float:
    """The points a layer type's check rows earn under its rule (rows: CheckResults, or anything with ``mode`` and
    ``status``: passed, warning, unsupported, failed). No rows at all (missing, not loadable): nothing."""
    if not results:
        return 0.0
    ok = [r.status in CREDITED for r in results]
    if rule.split == "type":
        share = float(all(ok))
    elif rule.split == "check":
        share = sum(ok) / len(ok)
    else:
        modes = list(dict.fromkeys(r.mode for r in results))
        share = sum(all(o for r, o in zip(results, ok) if r.mode == m) for m in modes) / len(modes)
    return round(rule.points * share, 4)


def read_rubric(path: str | Path | None) -> Rubric:
    """The rubric in a TOML file (None: DEFAULT_RUBRIC); every problem is one line naming the file and the key."""
    if path is None:
        return DEFAULT_RUBRIC
    path = Path(path)
    document = read_toml(path, "--rubric")

    def bad(where: str, why: str) -> UserInputError:
        return UserInputError(f"--rubric {path}: {where}: {why}")

    unknown = set(document) - {"defaults", "types", "stdout_visibility"}
    if unknown:
        raise bad(sorted(unknown)[0], "unknown key; the keys are defaults, types, stdout_visibility")
    defaults = _rule(document.get("defaults", {}), TypeRule(), "[defaults]", bad)
    given = document.get("types", {})
    if not isinstance(given, dict):
        raise bad("types", "must be a table of layer types ([types.conv] ...)")
    for kind in given:
        if kind not in KINDS:
            raise bad(f"[types.{kind}]", f"unknown layer type; choose from {', '.join(KINDS)}")
    kinds = list(LENET_TYPES) + [k for k in given if k not in LENET_TYPES]
    types = {}
    for kind in kinds:
        table = given.get(kind, {})
        if not isinstance(table, dict):
            raise bad(f"[types.{kind}]", "must be a table")
        if table.get("graded", True) is False:
            continue
        types[kind] = _rule({k: v for k, v in table.items() if k != "graded"}, defaults, f"[types.{kind}]", bad)
    if not types:
        raise bad("types", "every layer type is left out: nothing would be graded")
    stdout = document.get("stdout_visibility", "hidden")
    if stdout not in VISIBILITIES:
        raise bad("stdout_visibility", f"{stdout!r}; choose from {', '.join(VISIBILITIES)}")
    return Rubric(types, stdout, str(path))


def _rule(table: Any, base: TypeRule, where: str, bad) -> TypeRule:
    if not isinstance(table, dict):
        raise bad(where, "must be a table")
    unknown = set(table) - {"points", "split", "visibility", "graded"}
    if unknown:
        raise bad(where, f"unknown key {sorted(unknown)[0]!r}; the keys are points, split, visibility, graded")
    if "graded" in table and not isinstance(table["graded"], bool):
        raise bad(where, "graded must be true or false")
    points = table.get("points", base.points)
    if isinstance(points, bool) or not isinstance(points, (int, float)) or not points >= 0:
        raise bad(where, f"points {points!r}: give a number >= 0")
    split = table.get("split", base.split)
    if split not in SPLITS:
        raise bad(where, f"split {split!r}; choose from {', '.join(SPLITS)}")
    visibility = table.get("visibility", base.visibility)
    if visibility not in VISIBILITIES:
        raise bad(where, f"visibility {visibility!r}; choose from {', '.join(VISIBILITIES)}")
    return TypeRule(float(points), split, visibility)
