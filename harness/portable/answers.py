"""``lenet-parity cases check``: a program's answers against torch's, as ``check`` would judge a Python layer.

Each case's answers (DIR/answers/<id>/<name>.npy) are put behind the layer protocol (``AnsweredLayer``), so
the check's own ``run_case`` compares them: the same tolerances, noise floors, statuses and diagnoses. An
answer of another dtype than the case's is a failure (a kernel that silently computes in double is a bug
for a float32 network); a missing answer is unsupported for a case beyond LeNet (a failure under --scope
torch), else a failure. Only regular files are opened (harness/portable/regular_files.py); the sweep's cases are
rebuilt from the seed the manifest records, as they were exported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lenet_parity.errors import UserInputError
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.layer_case import run_case
from lenet_parity.harness.portable.export import ANSWERS, CASES, MANIFEST
from lenet_parity.harness.portable.plan import FORMAT_VERSION, PortableCase, answer_name, plan_cases
from lenet_parity.harness.portable.regular_files import regular_file
from lenet_parity.harness.results import CheckResult, CheckRun
from lenet_parity.harness.tolerances import Tolerance
from lenet_parity.reference.layers import KINDS
from lenet_parity.vocabulary import (DEFAULT_SEED, DTYPES, GRAD_INPUT, LENET_SCOPE, MAX_SEED, REFERENCE_MODELS,
                                     SCOPES, TORCH_SCOPE)

EXPORT_AGAIN = "export the cases again (lenet-parity cases export ...) and answer them again"


def read_manifest(folder: Path) -> dict[str, Any]:
    """The export's manifest, its fields checked: bad input (one line, never a traceback) if it is damaged."""
    path = folder / MANIFEST
    if not regular_file(path, folder):
        raise UserInputError(f"{path}: not found; give the folder written by lenet-parity cases export")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{path}: not a readable manifest ({exc}); {EXPORT_AGAIN}") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        version = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise UserInputError(f"{path}: format_version {version!r}, this lenet-parity reads {FORMAT_VERSION}; "
                             f"{EXPORT_AGAIN}")
    types, dtypes, records = manifest.get("types"), manifest.get("dtypes"), manifest.get("cases")
    seed = manifest.setdefault("seed", DEFAULT_SEED)  # an export made before --seed drew with seed 0
    model = manifest.setdefault("model", None)  # None: each type's model as check picks it (exports before --model)
    well_formed = (manifest.get("scope") in SCOPES and isinstance(types, list) and types and set(types) <= set(KINDS)
                   and type(seed) is int and 0 <= seed <= MAX_SEED
                   and (model is None or isinstance(model, str) and model in REFERENCE_MODELS)
                   and isinstance(dtypes, list) and dtypes and set(dtypes) <= set(DTYPES)
                   and isinstance(records, list)
                   and all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in records))
    if not well_formed:
        raise UserInputError(f"{path}: damaged (its types, scope, dtypes, seed or cases are not what cases export "
                             f"writes); {EXPORT_AGAIN}")
    return manifest


@dataclass(frozen=True)
class Required:
    """What the check must cover, whatever the manifest says (a program can edit the manifest): layer types,
    scope (torch: an unanswered case beyond LeNet fails, as a declined one does in check), dtypes."""
    types: tuple[str, ...] = ()
    scope: str = LENET_SCOPE
    dtypes: tuple[str, ...] = ()

    def refuse_less(self, manifest: dict[str, Any], path: Path) -> None:
        missing = ([t for t in self.types if t not in manifest["types"]]
                   + [d for d in self.dtypes if d not in manifest["dtypes"]])
        if self.scope == TORCH_SCOPE and manifest["scope"] != TORCH_SCOPE:
            missing.append("--scope torch")
        if missing:
            raise UserInputError(f"{path}: the export lacks {', '.join(missing)}, which this check requires; export "
                                 f"them (lenet-parity cases export ...) and answer them")


def planned_for(manifest: dict[str, Any], phase0: Any, path: Path) -> list[PortableCase]:
    """The harness's own cases for this manifest, in its order; bad input if they are not the exported ones."""
    cases = {c.id: c for c in plan_cases(manifest["types"], manifest["scope"], manifest["dtypes"], phase0,
                                         manifest["seed"], manifest["model"])}
    ids = [r["id"] for r in manifest["cases"]]
    if sorted(ids) != sorted(cases):
        unknown = sorted(set(ids) - set(cases)) or sorted(set(cases) - set(ids)) or ids
        raise UserInputError(f"{path}: its cases are not this lenet-parity's (e.g. {unknown[0]}); {EXPORT_AGAIN}")
    for record in manifest["cases"]:
        if record.get("inputs_sha256") != cases[record["id"]].inputs_sha256():
            raise UserInputError(f"{path}: case {record['id']} was exported with other inputs (another lenet-parity "
                                 f"or Phase 0); {EXPORT_AGAIN}")
    return [cases[i] for i in ids]


def read_answers(folder: Path, case: PortableCase) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The case's answers (name -> array) and what is wrong with the others (name -> why): missing, unreadable,
    another dtype than the case's, or not numbers."""
    values, problems = {}, {}
    for tensor in case.case.expected:
        name = answer_name(tensor)
        path, where = folder / f"{name}.npy", f"{ANSWERS}/{case.id}/{name}.npy"
        if any(p.is_symlink() for p in (folder.parent, folder, path)):  # someone else's answers, or any file
            problems[name] = f"{where} is (under) a symbolic link: write each answer as a file of its own"
            continue
        if not regular_file(path, folder):  # a FIFO, device or folder in its place is bad input
            problems[name] = f"{where} is missing: the program wrote no {name} for this case"
            continue
        try:  # mapped, not read: a header that claims more than the file holds is refused, not allocated
            mapped = np.load(path, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError, MemoryError) as exc:
            problems[name] = f"{where} is not a readable .npy file ({exc})"
            continue
        expected_size = int(np.size(case.case.expected[tensor]))
        if mapped.size > 16 * expected_size + (1 << 20):  # a wrong shape is compare()'s to name; this is no answer
            problems[name] = f"{where} holds {mapped.size} values, the case expects {expected_size}: not read"
            continue
        value = np.array(mapped)
        if value.dtype != np.dtype(case.dtype):
            problems[name] = (f"{where} has dtype {value.dtype}, the case is {case.dtype}: write answers in the "
                              f"case's dtype (a float32 case computed and returned in float64 is not what the "
                              f"network will run)")
        else:
            values[name] = value
    return values, problems


class AnsweredLayer:
    """One case's answers behind the layer protocol, so ``run_case`` compares them as it would a layer's: forward
    gives y (and the updated running stats), backward gives dx and the param gradients."""

    array_kind = "numpy"

    def __init__(self, answers: dict[str, np.ndarray], case: PortableCase):
        expected = case.case.expected
        # an answer with a problem is stood in for (its row reports the problem): the others are still judged
        self.answers = {answer_name(t): answers.get(answer_name(t), np.zeros(np.shape(v), case.dtype))
                        for t, v in expected.items()}
        self.after_forward = [t for t in expected if t.startswith("running_")]
        self.grad_names = [t[len("grad_"):] for t in expected if t.startswith("grad_") and t != GRAD_INPUT]
        self.params: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.training = False

    def forward(self, *inputs: Any) -> np.ndarray:
        self.params.update({name: self.answers[name] for name in self.after_forward})
        return self.answers["y"]

    def backward(self, *upstream: Any) -> np.ndarray:
        self.grads = {k: self.answers[f"grad_{k}"] for k in self.grad_names}
        return self.answers["dx"]


@dataclass
class AnswerCheck:
    run: CheckRun
    manifest: dict[str, Any]  # what was checked: its types, scope and dtypes
    failing: list[tuple[PortableCase, list[CheckResult]]] = field(default_factory=list)  # for --repro


def check_answers(folder: Path, phase0: Any, *, tol: Tolerance | None = None,
                  required: Required = Required()) -> AnswerCheck:
    """Every exported case's answers checked; rows named like check's (layer, tensor, mode, dtype, case)."""
    manifest = read_manifest(folder)
    required.refuse_less(manifest, folder / MANIFEST)
    checked = AnswerCheck(CheckRun(), manifest)
    for case in planned_for(manifest, phase0, folder / MANIFEST):
        rows = _case_rows(folder, case, phase0, tol, required.scope)
        checked.run.extend(rows)
        if any(r.status == "failed" for r in rows):
            checked.failing.append((case, rows))
    return checked


def _case_rows(folder: Path, case: PortableCase, phase0: Any, tol: Tolerance | None,
               scope: str) -> list[CheckResult]:
    answers = folder / ANSWERS / case.id
    label = case.case.label or "Phase 0 batch"
    missing = [name for name in case.outputs() if not (answers / f"{name}.npy").exists()]
    if case.beyond_lenet and len(missing) == len(case.outputs()):
        why = f"no answer to this case beyond LeNet ({ANSWERS}/{case.id}/ is absent or empty)"
        return [CheckResult(case.layer, "answers", case.mode, case.dtype, case=label, origin=case.origin)
                .decline(why, scope)]
    changed = [name for name, arr in case.inputs().items() if not _same_file(folder, case.id, name, arr)]
    if changed:  # the state mode's words: an input the layer must not change
        tensor = "dy_unchanged" if changed == ["dy"] else "input_unchanged"
        row = CheckResult(case.layer, tensor, case.mode, case.dtype, case=label, origin=case.origin)
        row.finding = (f"{CASES}/{case.id}/{changed[0]}.npy is not what was exported: the program must only read "
                       f"its inputs (did it write its result into {changed[0]}? or was the export interrupted: "
                       f"export again)")
        return [row]
    values, problems = read_answers(answers, case)
    context = CheckContext(lambda spec: AnsweredLayer(values, case), phase0=phase0, dtype=case.dtype, tol=tol)
    forward, backward = run_case(case.spec, case.case, context, layer_name=case.layer, mode=case.mode)
    for row in forward + backward:
        row.origin = case.origin
        name = answer_name(row.tensor)
        if name in problems:
            row.comparison, row.diagnosis = None, None
            if case.beyond_lenet and name in missing:  # an unanswered tensor beyond LeNet
                row.decline(f"no answer {name}.npy to this case beyond LeNet ({problems[name]})", scope)
            else:
                row.error = problems[name]
    return forward + backward


def _same_file(folder: Path, case_id: str, name: str, expected: np.ndarray) -> bool:
    path = folder / CASES / case_id / f"{name}.npy"
    if not regular_file(path, folder):
        return False
    try:
        on_disk = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, MemoryError):
        return False
    return on_disk.dtype == expected.dtype and on_disk.shape == expected.shape and np.array_equal(on_disk, expected)


