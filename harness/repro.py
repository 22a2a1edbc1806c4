"""``check --repro DIR``: for each failing layer, a standalone pytest file and an .npz that reproduce its failure on
the smallest case found, importing only numpy, pytest and the layer's own class (never lenet-parity or torch)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from lenet_parity.atomic import atomic_write_bytes, atomic_write_text, safe_name
from lenet_parity.harness.layer_case import TRAINING_KINDS
from lenet_parity.harness.results import CheckResult, CheckRun
from lenet_parity.vocabulary import FORWARD_TENSORS

_TEMPLATE = '''"""{title}

Written by `lenet-parity check --repro`: {layer} built as {cls}({kwargs}), {dtype}, its {tensor} compared with
torch's (saved in {npz}). Run: pytest {test_name}
Diagnosis: {hint}
"""

import importlib
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
IMPL, CLASS = {impl!r}, {class_name!r}
KWARGS = {kwargs_dict!r}
DTYPE, TENSOR, ATOL, RTOL = {dtype!r}, {tensor!r}, {atol!r}, {rtol!r}
TRAINING = {training!r}  # batchnorm and dropout are checked in training mode


def layer_class():
    if IMPL.endswith(".py"):
        path = pathlib.Path(IMPL)
        sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location("layer_under_test", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(IMPL)
    return getattr(module, CLASS)


def as_layer(layer, array):
    return array.tolist() if getattr(layer, "array_kind", "numpy") == "list" else array.copy()


def test_{test_id}():
    data = np.load(HERE / {npz!r})
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
    """The test files written (one per failing layer); ``impl`` is a file path or module, ``class_of(spec)`` the
    class name for a spec (the user's one class, or our backend's per torch class)."""
    written = []
    for r in smallest_failures(run):
        spec, case = r.source
        safe = safe_name(r.checked_layer).replace(".", "_")  # also a Python identifier: the test's name
        npz, test_name = f"{safe}.npz", f"test_{safe}.py"
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
        c = r.comparison
        atol, rtol = (c.atol, c.rtol) if c is not None else (0.0, 0.0)
        kwargs = ", ".join(f"{k}={v!r}" for k, v in spec.kwargs.items())
        text = _TEMPLATE.format(
            title=f"Reproduces {r.describe()}"[:300], layer=r.checked_layer, cls=spec.cls, kwargs=kwargs,
            dtype=r.dtype, tensor=r.tensor, npz=npz, test_name=test_name, hint=r.likely().hint[:300],
            impl=impl, class_name=class_of(spec), kwargs_dict=dict(spec.kwargs), atol=atol, rtol=rtol,
            training=spec.kind in TRAINING_KINDS, test_id=f"{safe}_{r.tensor}")
        atomic_write_bytes(directory / npz, buffer.getvalue())
        atomic_write_text(directory / test_name, text)
        written.append(directory / test_name)
    return written

