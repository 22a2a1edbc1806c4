"""The hybrid mode: LeNet with the checked layers swapped for custom ones (harness/swap.py) against pure torch.

On the Phase 0 batch, by name: each checked layer's output (batchnorm: and running stats) in forward order,
the log-probabilities and the loss, then each checked layer's grad_input and param gradients in backward order.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from lenet_parity.errors import UserInputError
from lenet_parity.harness import guard
from lenet_parity.harness.compare import compare
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.diagnosis import diagnose_values
from lenet_parity.harness.layer_factory import layer_catalogue
from lenet_parity.harness.results import CheckResult
from lenet_parity.harness.swap import SKIPPED_BUFFERS, LossBridge, SwapError, swap_many
from lenet_parity.harness.torch_cache import digest, golden_seal, shared
from lenet_parity.reference.determinism import CAPTURE_THREADS
from lenet_parity.reference.layers import LOSS_NAME, LayerSpec
from lenet_parity.reference.model import LeNet
from lenet_parity.reference.config import VARIANTS_CONFIG
from lenet_parity.reference.phase0_format import REGENERATE, Capture, Phase0
from lenet_parity.reference.weights import build_torch_model
from lenet_parity.vocabulary import (GRAD_INPUT, HYBRID, LENET, LENET_VARIANTS, LOSS, MODEL_TITLES, NETWORK, OUTPUT,
                                     grad_name)
MaskFor = Callable[[str, tuple, torch.dtype], "torch.Tensor | None"]  # (layer name, x's shape, dtype) -> mask


# ---- torch models and passes, shared with the train mode and trace ----

@contextmanager
def capture_threads():
    """Torch on Phase 0's thread count: its float32 sums then match the capture's, and tiny batches run
    several times faster than with threads fighting for two busy cores (0.2 s against 1.7 s, measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(CAPTURE_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def group_layers(layer_names: list[str], phase0: Phase0 | None, model: str | None = None) -> dict[str, list[LayerSpec]]:
    """The checked layers per Phase 0 model (lenet, lenet_variants; lenet5), each list in forward order, the loss
    last."""
    catalogue = layer_catalogue(phase0, model)
    unknown = [n for n in layer_names if n not in catalogue]
    if unknown:
        raise UserInputError(f"unknown layer(s) {unknown}; {MODEL_TITLES[model or LENET]}'s layers are "
                             f"{', '.join(catalogue)}")
    groups: dict[str, list[LayerSpec]] = {}
    for name, (model, spec) in catalogue.items():  # catalogue order is forward order
        if name in layer_names:
            groups.setdefault(model, []).append(spec)
    return groups


def torch_model(model: str, dtype: str, weights_path: Path, *, seed: int = 42) -> LeNet:
    """LeNet or LeNet-5 from the weights file, or LeNet(VARIANTS_CONFIG) initialised from ``seed`` as Phase 0
    does, in dtype. Built once per process while the weights file is pinned (a copy each)."""
    source = model_source(model, weights_path, seed)
    cache_key = None if source is None else (model, dtype, source)
    return shared("model", cache_key, lambda: _build_model(model, dtype, weights_path, seed))


def _build_model(model: str, dtype: str, weights_path: Path, seed: int) -> LeNet:
    if model != LENET_VARIANTS:
        net = build_torch_model(weights_path)
    else:
        with torch.random.fork_rng(devices=[]):  # seed_everything(seed)'s torch state, without touching the caller's
            torch.manual_seed(seed)
            net = LeNet(VARIANTS_CONFIG)
    return net.to(getattr(torch, dtype))


def model_source(model: str, weights_path: Path, seed: int) -> tuple | None:
    """What ``torch_model`` builds the model from, for a key of harness/torch_cache.py: the seal of the pinned
    weights file, or the seed of LeNet(VARIANTS_CONFIG); None (nothing cached) when the weights are not pinned."""
    if model == LENET_VARIANTS:
        return ("seed", seed)
    seal = golden_seal(weights_path)
    return None if seal is None else ("weights", seal)


def check_matches_phase0(net: LeNet, capture: Capture, phase0: Phase0, model: str, weights_path: Path) -> None:
    """The torch model must hold the params Phase 0 recorded, else the batch's comparison means nothing."""
    source = f"{weights_path}" if model != LENET_VARIANTS else "LeNet(VARIANTS_CONFIG) seeded as in reference/phase0.py"
    for record in capture.layers:
        module = getattr(net, record.name, None)
        for key, value in record.params.items():
            t = getattr(module, key, None)
            if t is None or tuple(t.shape) != value.shape or not np.array_equal(t.detach().numpy(), value):
                raise UserInputError(f"{phase0.path} was not captured from {source} ({record.name}.{key} differs); "
                                     f"run: {REGENERATE}")


@dataclass
class Pass:
    """One recorded forward (and backward) pass: tensors by layer name."""

    inputs: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor]
    buffers: dict[str, dict[str, torch.Tensor]]  # after the forward
    masks: dict[str, torch.Tensor]  # dropout masks used
    log_probs: torch.Tensor
    loss: torch.Tensor
    params: dict[str, dict[str, torch.Tensor]]  # the Parameters, whose .grad the backward fills
    grad_inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    dlogp: torch.Tensor | None = None


def forward_pass(net: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, loss_fn: Callable,
                 mask_for: MaskFor | None = None) -> Pass:
    """The net in training mode, layer by layer through its plan, keeping every input and output."""
    net.train()
    net.zero_grad(set_to_none=True)
    inputs, outputs, buffers, masks, params = {}, {}, {}, {}, {}
    h = x.detach().clone().requires_grad_(True)  # so the first layer's grad_input exists too
    for spec in net.plan:
        module = getattr(net, spec.name)
        if spec.kind == "dropout" and mask_for is not None:
            module.next_mask = mask_for(spec.name, tuple(h.shape), h.dtype)
        inputs[spec.name] = h
        out = module(h)
        if out is h:  # identity in evaluation mode: a new node so each layer keeps its own gradient
            out = h.view_as(h)
        out.retain_grad()
        outputs[spec.name] = out
        buffers[spec.name] = {k: v.detach().clone() for k, v in module.named_buffers(recurse=False)
                              if k not in SKIPPED_BUFFERS}
        params[spec.name] = dict(module.named_parameters(recurse=False))
        if getattr(module, "last_mask", None) is not None:
            masks[spec.name] = module.last_mask
        h = out
    return Pass(inputs, outputs, buffers, masks, h, loss_fn(h, target), params)


def backward_pass(p: Pass) -> None:
    p.loss.backward()
    p.grad_inputs = {name: t.grad for name, t in p.inputs.items()}
    p.dlogp = p.log_probs.grad


def reference_pass(pristine: LeNet, x: torch.Tensor, target: torch.Tensor,
                   recorded: dict[str, torch.Tensor]) -> Pass:
    """Pure torch's forward and backward on the batch: dropout takes Phase 0's ``recorded`` mask where it fits,
    else a mask drawn from a generator seeded 0."""
    generator = torch.Generator().manual_seed(0)

    def ref_mask(name: str, shape: tuple, tdtype: torch.dtype) -> torch.Tensor:
        if name in recorded and tuple(recorded[name].shape) == shape:  # Phase 0's own mask
            return recorded[name].to(tdtype)
        p = getattr(pristine, name).p
        return torch.bernoulli(torch.full(shape, 1 - p, dtype=tdtype), generator=generator) / (1 - p)

    ref = forward_pass(copy.deepcopy(pristine), x, target, pristine.loss, ref_mask)
    backward_pass(ref)
    return ref


def build_layers(specs: list[LayerSpec], make_layer: Callable[[LayerSpec], Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Fresh custom layers by name, and the reason for each one that could not be built."""
    layers, errors = {}, {}
    for spec in specs:
        try:
            layer, _ = guard.build(make_layer, spec)
            missing = [m for m in ("forward", "backward") if not callable(getattr(layer, m, None))]
            if missing:
                raise guard.LayerError(f"{type(layer).__name__} has no {' or '.join(missing)}() method "
                                       f"(the layer protocol needs forward and backward)")
            layers[spec.name] = layer
        except guard.LayerError as exc:
            errors[spec.name] = str(exc)
    return layers, errors


def swapped_copy(pristine: LeNet, layers: dict[str, Any]) -> tuple[LeNet, Callable]:
    """A copy of the torch model with ``layers`` swapped in, and its loss function (custom if "loss" is given)."""
    net = swap_many(copy.deepcopy(pristine), {n: layer for n, layer in layers.items() if n != LOSS_NAME})
    loss_fn = LossBridge(layers[LOSS_NAME]) if LOSS_NAME in layers else pristine.loss
    return net, loss_fn


# ---- the mode ----

@dataclass
class _Failure:
    stage: str  # build, swap, forward, backward
    message: str
    rows: list[CheckResult] = field(default_factory=list)  # forward rows kept from a run whose backward crashed


class _Rows:
    def __init__(self, context: CheckContext, case: str):
        self.context, self.case, self.rows = context, case, []

    def compare(self, layer: str, tensor: str, actual: Any, expected: Any, *, network: bool = False) -> None:
        """One tensor's row; ``network``: a row of the model's output, not of a checked layer."""
        atol, rtol, _ = self.context.tolerance(tensor)
        result = CheckResult(layer, tensor, HYBRID, self.context.dtype, case=self.case,
                             origin=NETWORK if network else "")
        result.comparison = compare(actual, expected, atol=atol, rtol=rtol, name=f"{layer}.{tensor}")
        if not result.comparison.passed and result.comparison.reason != "dtype":
            result.diagnosis = diagnose_values(tensor, actual, expected, atol, rtol)
        self.rows.append(result)

    def error(self, layer: str, tensors: list[str], message: str) -> None:
        self.rows += [CheckResult(layer, t, HYBRID, self.context.dtype, error=message, case=self.case) for t in tensors]


def _tensors(ref: Pass, name: str) -> tuple[list[str], list[str]]:
    """(forward tensors, backward tensors) of a layer: output and buffers; grad_input and grad_<param>."""
    if name == LOSS_NAME:
        return [LOSS], [GRAD_INPUT]
    return [OUTPUT, *ref.buffers[name]], [GRAD_INPUT, *(grad_name(k) for k in ref.params[name])]


def _forward_rows(rows: _Rows, ref: Pass, hyb: Pass, names: list[str], failures: dict[str, _Failure],
                  last: str) -> None:
    def layer(name: str) -> None:
        failure = failures.get(name)
        if failure and failure.stage != "backward":
            rows.error(name, _tensors(ref, name)[0], failure.message)
        elif failure:  # its forward ran fine before the backward crashed
            rows.rows += failure.rows
        else:
            rows.rows += _layer_forward(rows, ref, hyb, name)

    for name in names:
        if name != LOSS_NAME:
            layer(name)
    if last not in names:  # the network's output (its last layer's), whatever was swapped
        rows.compare(last, OUTPUT, hyb.log_probs, ref.log_probs, network=True)
    if LOSS_NAME in names:
        layer(LOSS_NAME)
    else:  # the loss value, whether or not the loss itself is checked
        rows.compare(LOSS_NAME, LOSS, hyb.loss, ref.loss, network=True)


def _layer_forward(rows: _Rows, ref: Pass, hyb: Pass, name: str) -> list[CheckResult]:
    """A layer's forward rows (output, then its buffers; the loss: its value), not yet added to ``rows``."""
    probe = _Rows(rows.context, rows.case)
    if name == LOSS_NAME:
        probe.compare(name, LOSS, hyb.loss, ref.loss)
        return probe.rows
    probe.compare(name, OUTPUT, hyb.outputs[name], ref.outputs[name])
    for key, value in ref.buffers[name].items():
        probe.compare(name, key, hyb.buffers[name].get(key), value)
    return probe.rows


def _backward_rows(rows: _Rows, ref: Pass, hyb: Pass, names: list[str], failures: dict[str, _Failure]) -> None:
    for name in reversed(names):  # the loss first: the backward pass starts there
        failure = failures.get(name)
        backward = _tensors(ref, name)[1]
        if failure:
            rows.error(name, backward, failure.message if failure.stage == "backward" else
                       f"not run: {failure.stage} failed")
        elif name == LOSS_NAME:
            rows.compare(name, GRAD_INPUT, hyb.dlogp, ref.dlogp)
        else:
            rows.compare(name, GRAD_INPUT, hyb.grad_inputs[name], ref.grad_inputs[name])
            for key, param in ref.params[name].items():
                rows.compare(name, grad_name(key), hyb.params[name][key].grad, param.grad)


def compare_model(model: str, specs: list[LayerSpec], context: CheckContext, *,
                  swap_all: bool = False) -> list[CheckResult]:
    """One model on its Phase 0 batch: the layers in ``specs`` swapped (every layer with swap_all) against torch."""
    phase0, dtype, weights_path = context.phase0, context.dtype, context.weights
    capture = phase0.capture(model, dtype)
    pristine = torch_model(model, dtype, weights_path, seed=int(phase0.meta.get("seed", 42)))
    check_matches_phase0(pristine, capture, phase0, model, weights_path)
    x, target = torch.as_tensor(capture.input.copy()), torch.as_tensor(capture.targets, dtype=torch.int64)
    recorded = {r.name: torch.as_tensor(r.mask.copy()) for r in capture.layers if r.mask is not None}
    source = model_source(model, weights_path, int(phase0.meta.get("seed", 42)))
    cache_key = None if source is None else (model, dtype, source, digest(x, target, recorded))
    ref = shared("hybrid", cache_key, lambda: reference_pass(pristine, x, target, recorded))
    names = [s.name for s in specs]
    if swap_all:  # every layer of the model and the loss: the fully custom network
        specs = [*pristine.plan, *([pristine.loss_spec] if pristine.loss_spec else [])]
        names = [s.name for s in specs]
    failures: dict[str, _Failure] = {}
    rows = _Rows(context, "" if model != LENET_VARIANTS else model)

    while True:  # a layer that crashes is reported and the run repeated without it, so the others are checked
        layers, build_errors = build_layers([s for s in specs if s.name not in failures], context.make_layer)
        failures.update({n: _Failure("build", message) for n, message in build_errors.items()})
        hyb = None
        try:
            net, loss_fn = swapped_copy(pristine, layers)
            hyb = forward_pass(net, x, target, loss_fn, lambda name, shape, tdtype: ref.masks.get(name))
            backward_pass(hyb)
            break
        except SwapError as exc:
            if exc.layer_name not in layers:
                raise
            failure = _Failure(exc.stage, str(exc))
            if exc.stage == "backward" and hyb is not None:
                failure.rows = _layer_forward(rows, ref, hyb, exc.layer_name)
            failures[exc.layer_name] = failure

    _forward_rows(rows, ref, hyb, names, failures, pristine.plan[-1].name)
    _backward_rows(rows, ref, hyb, names, failures)
    return rows.rows


def run_hybrid(layer_names: list[str], context: CheckContext) -> list[CheckResult]:
    """The named layers swapped into torch's LeNet on the Phase 0 batch, every tensor compared with pure torch.

    Layers of the variants model (bn*, res1, drop*) run in LeNet(VARIANTS_CONFIG) (rows with case
    "lenet_variants"), the others and the loss in LeNet from the context's weights. Dropout layers share
    torch's mask. A layer that crashes or returns NaN/Inf from finite inputs gives error rows; the run is
    repeated without it.
    """
    if context.phase0 is None:
        raise UserInputError(f"the hybrid mode needs Phase 0 (phase0/_reference.json); run: {REGENERATE}")
    results = []
    with capture_threads():
        for model, specs in group_layers(list(layer_names), context.phase0, context.model).items():
            results += compare_model(model, specs, context)
    return results
