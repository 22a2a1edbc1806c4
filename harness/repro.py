"""``check --repro DIR``: for each failing layer, a standalone pytest file and an .npz that reproduce its failure on
the smallest case found, importing only numpy, pytest and the layer's own class (never lenet-parity or torch), from
a copy of the checked file beside them: the folder runs on any machine."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from lenet_parity.atomic import FolderUpdate, safe_name, write_new_file
from lenet_parity.errors import UserInputError
from lenet_parity.harness.layer_case import TRAINING_KINDS
from lenet_parity.harness.results import CheckResult, CheckRun
from lenet_parity.vocabulary import FORWARD_TENSORS

# Student text (exception messages, class names, diagnosis hints) enters the file only through repr() in the
# constants below: the docstring and the code are ours, so no message can break out of a string and run.
_TEMPLATE = '''"""Replays a failing check of lenet-parity on the smallest case found: it fails until the layer is fixed.

Written by `lenet-parity check --repro`. FAILURE says what the check found and DIAGNOSIS the likely cause; the
inputs, params, dy and torch's expected values are in the .npz named by NPZ. The layer is imported from IMPL: a
copy of the checked file beside this test (fix that copy, or copy your fixed file over it), or an importable
module. Run: pytest {test_name}
"""

import importlib
import importlib.util
import pathlib

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
FAILURE = {failure}
DIAGNOSIS = {diagnosis}
BUILT_AS = {built_as}
IMPL, CLASS = {impl}, {class_name}
NPZ = {npz}
KWARGS = {kwargs}
DTYPE, TENSOR, ATOL, RTOL = {dtype}, {tensor}, {atol}, {rtol}
TRAINING = {training}  # batchnorm and dropout are checked in training mode


def layer_class():
    if IMPL.endswith(".py"):
        spec = importlib.util.spec_from_file_location("layer_under_test", HERE / IMPL)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(IMPL)
    return getattr(module, CLASS)


def as_layer(layer, array):
    return array.tolist() if getattr(layer, "array_kind", "numpy") == "list" else array.copy()


def test_{test_id}():
    data = np.load(HERE / NPZ)
    layer = layer_class()(**KWARGS)
    if TRAINING:
        layer.training = True
    for key in [k[len("param_"):] for k in data.files if k.startswith("param_")]:
        layer.params[key] = as_layer(layer, data["param_" + key])
    if "mask" in data.files:
        layer.mask = as_layer(layer, data["mask"])
    args = [as_layer(layer, data["x"])]
    if "targets" in data.files:
        args.append(data["targets"].tolist() if getattr(layer, "array_kind", "numpy") == "list" else data["targets"])
    y = layer.forward(*args)
    if TENSOR in ("output", "loss"):
        got = y
    elif TENSOR in ("running_mean", "running_var"):
        got = layer.params[TENSOR]
    else:
        dx = layer.backward(*([as_layer(layer, data["dy"])] if "dy" in data.files else []))
        got = dx if TENSOR == "grad_input" else layer.grads[TENSOR[len("grad_"):]]
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), data["expected"], atol=ATOL, rtol=RTOL)
'''
_PYTEST_NAMES = re.compile(r"(test_.*|.*_test|conftest|__init__)\.py")  # files pytest would collect or run itself
IMPL_COPY = "layer_under_test.py"  # the copy's name when the file's own would be one of those


def _literal(value: Any) -> str:
    """``repr(value)``, checked to read back as the same plain value: the only way text enters the file."""
    text = repr(value)
    if ast.literal_eval(text) != value:
        raise ValueError(f"{text[:60]} does not read back as a Python literal")
    return text


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text, flags=re.ASCII)


def copy_name(path: Path) -> str:
    """The name the checked file's copy gets beside the tests: its own, made safe, unless pytest would collect or
    run it (test_*.py, *_test.py, conftest.py, __init__.py)."""
    name = safe_name(path.name)
    return IMPL_COPY if not name.endswith(".py") or _PYTEST_NAMES.fullmatch(name) else name


def _size(r: CheckResult) -> int:
    return int(np.asarray(r.source[1].x).size)


def smallest_failures(run: CheckRun) -> list[CheckResult]:
    """Per failing layer, the failed row (with a case) whose input is smallest; crashes and values alike."""
    best: dict[str, CheckResult] = {}
    for r in run.failures:
        if r.source is None or (r.error or "").startswith("not run"):
            continue
        key = r.checked_layer
        if key not in best or _size(r) < _size(best[key]):
            best[key] = r
    return list(best.values())


def write_repro(run: CheckRun, directory: Path, *, impl: str, class_of: Any) -> list[Path]:
    """The test files written (one per failing layer); ``impl`` is a file (copied beside them, so the folder runs
    anywhere) or an importable module, ``class_of(spec)`` the class name for a spec (the user's one class, or our
    backend's per torch class; None for a layer read through a convention: no file is written for it). The folder's new files are written whole or not at all: on an OSError (a full
    disk) nothing there changed, and the error is one line of bad input (exit 2)."""
    rows = [r for r in smallest_failures(run) if class_of(r.source[0]) is not None]  # None: no class to import
    if not rows:
        return []
    files: dict[str, bytes] = {}
    if impl.endswith(".py"):
        source = Path(impl)
        impl = copy_name(source)
        try:
            files[impl] = source.read_bytes()
        except OSError as exc:
            raise UserInputError(f"{source}: cannot be read to copy beside the repro files ({exc.strerror or exc})"
                                 ) from None
    tests = []
    for r in rows:
        test_name, npz, text = _test_file(r, impl, class_of)
        files[npz] = _npz(r)
        files[test_name] = text.encode()
        tests.append(test_name)
    try:
        with FolderUpdate(directory) as update:
            for name, data in files.items():
                write_new_file(update.path / name, data)
            update.commit()
    except OSError as exc:
        raise UserInputError(f"{directory}: the repro files could not be written ({exc.strerror or exc}); nothing "
                             f"there was changed") from None
    return [directory / name for name in tests]


def _npz(r: CheckResult) -> bytes:
    """The case's arrays: x, torch's expected tensor, dy where the tensor is a gradient, params, mask, targets."""
    _, case = r.source
    arrays = {"x": np.asarray(case.x, dtype=r.dtype), "expected": np.asarray(case.expected[r.tensor], np.float64)}
    if case.dy is not None and r.tensor not in FORWARD_TENSORS:
        arrays["dy"] = np.asarray(case.dy, dtype=r.dtype)
    arrays.update({f"param_{k}": np.asarray(v, dtype=r.dtype) for k, v in case.params.items()})
    if case.mask is not None:
        arrays["mask"] = np.asarray(case.mask, dtype=r.dtype)
    if case.targets is not None:
        arrays["targets"] = np.asarray(case.targets, dtype=np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _test_file(r: CheckResult, impl: str, class_of: Any) -> tuple[str, str, str]:
    """(test file name, .npz name, the test's text) for one failing row."""
    spec, _ = r.source
    safe = _identifier(safe_name(r.checked_layer))  # also a Python identifier: the test's name
    npz, test_name = f"{safe}.npz", f"test_{safe}.py"
    c = r.comparison
    atol, rtol = (c.atol, c.rtol) if c is not None else (0.0, 0.0)
    likely = r.likely()
    built_as = f"{spec.cls}({', '.join(f'{k}={v!r}' for k, v in spec.kwargs.items())}), {r.dtype}, its {r.tensor}"
    text = _TEMPLATE.format(
        test_name=test_name, failure=_literal(r.describe()[:1000]),
        diagnosis=_literal(f"{likely.hint} [{likely.code}]"[:1000]), built_as=_literal(built_as),
        impl=_literal(impl), class_name=_literal(class_of(spec)), npz=_literal(npz),
        kwargs=_literal(dict(spec.kwargs)), dtype=_literal(r.dtype), tensor=_literal(r.tensor),
        atol=_literal(float(atol)), rtol=_literal(float(rtol)), training=_literal(spec.kind in TRAINING_KINDS),
        test_id=_identifier(f"{safe}_{r.tensor}"))
    return test_name, npz, text
