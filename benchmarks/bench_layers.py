"""Per-layer forward and backward times at LeNet's shapes: torch (float32, per thread setting), NumPy (float32)
and pure Python (float64 lists), each layer's inputs being what the torch LeNet feeds it on real images.

Before anything is timed, every implementation's output, dx and parameter gradients are checked against
torch's (float64, the project's tolerance table) on the same inputs: a benchmark of a wrong layer is worthless.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from lenet_parity.harness.compare import assert_match
from lenet_parity.harness.layer_factory import BackendFactory
from lenet_parity.reference.layers import LOSS_SPEC, LayerSpec
from lenet_parity.reference.model import LeNet

from bench_timing import Case, Threads, interleaved

PY_REPEATS = 3  # pure Python: one call of a conv layer at batch 64 takes about a second


@dataclass
class Impl:
    forward: Callable[[], Any]
    backward: Callable[[], Any]


def layer_inputs(model: LeNet, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each layer's input (and the loss's: the log-probabilities) as the torch LeNet computes it."""
    inputs, h = {}, x
    with torch.no_grad():
        for spec in model.plan:
            inputs[spec.name] = h
            h = getattr(model, spec.name)(h)
    inputs[LOSS_SPEC.name] = h
    return inputs


def _torch_impl(module: torch.nn.Module | None, x: np.ndarray, dy: np.ndarray, target: np.ndarray,
                need_dx: bool = True) -> Impl:
    """Forward with autograd recording (as in training); backward: torch.autograd.grad on a retained graph,
    for dx and every parameter (conv1's dx too, so that all backends do the same work)."""
    x_t = torch.from_numpy(x).requires_grad_(need_dx)
    if module is None:  # the loss: F.nll_loss, mean over the batch
        target_t = torch.from_numpy(target)
        forward = lambda: F.nll_loss(x_t, target_t)  # noqa: E731
        y = forward()
        return Impl(forward, lambda: torch.autograd.grad(y, [x_t], retain_graph=True))
    inputs = [x_t, *module.parameters()] if need_dx else list(module.parameters())
    dy_t = torch.from_numpy(dy)
    forward = lambda: module(x_t)  # noqa: E731
    y = forward()
    return Impl(forward, lambda: torch.autograd.grad(y, inputs, dy_t, retain_graph=True))


def _custom_impl(layer: Any, x: Any, dy: Any, target: Any) -> Impl:
    if target is not None:  # the loss: forward(logp, target), backward()
        forward = lambda: layer.forward(x, target)  # noqa: E731
        forward()
        return Impl(forward, layer.backward)
    forward = lambda: layer.forward(x)  # noqa: E731
    forward()  # backward reuses this forward's cache on every call
    return Impl(forward, lambda: layer.backward(dy))


def _build(backend: str, spec: LayerSpec, module: torch.nn.Module | None, dtype: type = np.float32) -> Any:
    layer = BackendFactory(backend)(spec)
    for key, p in ({} if module is None else dict(module.named_parameters(recurse=False))).items():
        value = p.detach().numpy()
        layer.params[key] = value.astype(dtype) if backend == "numpy" else value.astype(np.float64).tolist()
    return layer


def check_against_torch(backend: str, spec: LayerSpec, module: torch.nn.Module | None, x: np.ndarray,
                        dy: np.ndarray, target: np.ndarray) -> None:
    """AssertionError (with the comparison report) unless y, dx and the parameter gradients match torch's.

    In float64 with the table's float64 entries: at batch 64 a float32 weight gradient sums 4,096 products
    per element, and torch's float32 sum is itself ~7e-4 off the exact one (conv2), beyond the float32
    entries (calibrated at batch 4). The NumPy layers run the same code in both dtypes.
    """
    module64 = None if module is None else copy.deepcopy(module).double()
    layer = _build(backend, spec, module64, np.float64)
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    to = (lambda a: a) if backend == "numpy" else (lambda a: a.tolist())
    x_t = torch.from_numpy(x).requires_grad_(True)
    loss = module64 is None
    y_t = F.nll_loss(x_t, torch.from_numpy(target)) if loss else module64(x_t)
    params = [] if loss else list(module64.named_parameters(recurse=False))
    grads = torch.autograd.grad(y_t, [x_t] + [p for _, p in params], None if loss else torch.from_numpy(dy))
    y = layer.forward(to(x), target if backend == "numpy" else target.tolist()) if loss else layer.forward(to(x))
    dx = layer.backward() if loss else layer.backward(to(dy))
    name = f"{backend} {spec.name}"
    assert_match(y, y_t, dtype="float64", tensor="loss" if loss else "output", name=f"{name}.output")
    assert_match(dx, grads[0], dtype="float64", tensor="grad_input", name=f"{name}.dx")
    for (key, _), g in zip(params, grads[1:]):
        assert_match(layer.grads[key], g, dtype="float64", tensor=f"grad_{key}", name=f"{name}.grads[{key!r}]")


def bench_layers(model: LeNet, x: torch.Tensor, target: torch.Tensor, settings: list[Threads], *, py_batch: int,
                 min_time: float, repeats: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """One record per layer (and the loss): shapes and {forward, backward} -> {impl -> timing dict}.

    Pure-Python times are measured on the first ``py_batch`` images and scaled to the full batch.
    """
    rng = np.random.default_rng(1234)
    inputs = layer_inputs(model, x)
    n = len(x)
    results = []
    for spec in [*model.plan, LOSS_SPEC]:
        module = None if spec is LOSS_SPEC else getattr(model, spec.name)
        x_np = inputs[spec.name].numpy().copy()  # (N, ...) float32
        target_np = target.numpy().astype(np.int64)
        with torch.no_grad():
            y_shape = tuple((F.nll_loss(inputs[spec.name], target) if module is None else module(inputs[spec.name])).shape)
        dy_np = rng.standard_normal(y_shape).astype(np.float32) if y_shape else np.zeros((), np.float32)  # seeded, never all ones
        py = slice(0, py_batch)
        py_target = target_np[py]
        for backend, xb, dyb, tb in (("numpy", x_np, dy_np, target_np),
                                     ("python", x_np[py], dy_np[py] if y_shape else dy_np, py_target)):
            check_against_torch(backend, spec, module, xb, dyb, tb)
        torch_impl = _torch_impl(module, x_np, dy_np, target_np)  # each setting's setup sets its thread count
        np_impl = _custom_impl(_build("numpy", spec, module), x_np, dy_np, target_np if module is None else None)
        py_impl = _custom_impl(_build("python", spec, module), x_np[py].astype(np.float64).tolist(),
                               dy_np[py].astype(np.float64).tolist() if y_shape else None,
                               py_target.tolist() if module is None else None)
        record: dict[str, Any] = {"name": spec.name, "cls": spec.cls, "input_shape": list(x_np.shape),
                                  "output_shape": list(y_shape)}
        for direction in ("forward", "backward"):
            cases = []
            for s in settings:
                cases.append(Case(f"torch_{s.key}", getattr(torch_impl, direction), s.apply, repeats))
                cases.append(Case(f"numpy_{s.key}", getattr(np_impl, direction), s.apply, repeats))
            cases.append(Case("python", getattr(py_impl, direction), settings[0].apply, min(PY_REPEATS, repeats), loops=1))
            if direction == "backward" and spec is model.plan[0]:  # training never asks for the input's gradient
                no_dx = _torch_impl(module, x_np, dy_np, target_np, need_dx=False)
                cases.append(Case("torch_1t_no_dx", no_dx.backward, settings[0].apply, repeats))
            timings = interleaved(cases, min_time)
            record[direction] = {name: t.to_dict(n / py_batch if name == "python" else 1.0)
                                 for name, t in timings.items()}
        log(f"  {spec.name:<10} fwd numpy/torch(1t) {record['forward']['numpy_1t']['cpu_s'] / record['forward']['torch_1t']['cpu_s']:6.2f}"
            f"  bwd {record['backward']['numpy_1t']['cpu_s'] / record['backward']['torch_1t']['cpu_s']:6.2f} (cpu)")
        results.append(record)
    return results
