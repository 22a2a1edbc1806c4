"""The train mode: N steps of SGD with momentum on real MNIST batches, the hybrid LeNet against pure torch.

Both models start from the same weights and see the same batches and dropout masks; compared are the loss
at every step (layer "loss", tensor "loss", case "step k") and, after the last step, each checked layer's
params (tensors "weight", "bias") and batchnorm running stats, so drift that one batch hides shows up.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from lenet_parity.errors import UserInputError
from lenet_parity.harness.compare import compare
from lenet_parity.harness.modes.hybrid import (BASE, backward_pass, build_layers, capture_threads, forward_pass,
                                               group_layers, swapped_copy, torch_model)
from lenet_parity.harness.results import CheckResult
from lenet_parity.harness.swap import SKIPPED_BUFFERS, SwapError
from lenet_parity.harness.tolerances import Tolerance, tolerance
from lenet_parity.reference.layers import LOSS_SPEC, LayerSpec
from lenet_parity.reference.phase0_format import Phase0

MODE = "train"


def mnist_batches(data_root: Path, steps: int, batch_size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``steps`` batches of epoch 1 of the training loop's seeded order over MNIST's 60,000 images.

    Read straight from the IDX files (torchvision's MNIST reads the same ones, but importing it takes ~4 s),
    normalised with reference/datasets.normalise's arithmetic: float32 x / 255, minus mean, over std.
    """
    from lenet_parity.reference.data_fetch import dataset_spec, fetch_hint, raw_folder
    from lenet_parity.reference.idx import read_idx
    from lenet_parity.reference.phase0 import MNIST_MEAN, MNIST_STD
    from lenet_parity.reference.training import batch_order

    raw = raw_folder("mnist", data_root)
    images_file, labels_file = dataset_spec("mnist").files[:2]  # the training split
    missing = [f.name for f in (images_file, labels_file) if not (raw / f.name).is_file()]
    if missing:
        raise UserInputError(f"MNIST not found in {raw} (missing {', '.join(missing)}); {fetch_hint('mnist')}")
    hint = f"delete it, then {fetch_hint('mnist')}"
    images = torch.from_numpy(read_idx(raw / images_file.name, shape=images_file.shape, hint=hint))  # (60000, 28, 28)
    labels = torch.from_numpy(read_idx(raw / labels_file.name, shape=labels_file.shape, hint=hint)).to(torch.int64)
    order = batch_order(len(labels), batch_size, seed, 1)
    if steps > len(order):
        raise UserInputError(f"--steps {steps} is more than one epoch ({len(order)} batches of {batch_size})")
    return [(images[idx].unsqueeze(1).to(torch.float32).div(255).sub_(MNIST_MEAN).div_(MNIST_STD), labels[idx])
            for idx in order[:steps]]  # (B, 1, 28, 28) float32, (B,) int64


class SGD:
    """torch.optim.SGD(params, lr, momentum) without weight decay, dampening or Nesterov, the same operations
    in the same order (its single-tensor path). torch.optim's first use imports torch._dynamo: 3.5 s a process
    (measured); a test checks this one against it bit for bit."""

    def __init__(self, params, *, lr: float, momentum: float):
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.buffers: dict[int, torch.Tensor] = {}

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            buf = self.buffers.get(i)
            if buf is None:
                buf = self.buffers[i] = torch.clone(p.grad).detach()
            else:
                buf.mul_(self.momentum).add_(p.grad, alpha=1)
            p.add_(buf, alpha=-self.lr)


def _train(net: torch.nn.Module, loss_fn: Callable, batches: list, dtype: torch.dtype, *, lr: float,
           momentum: float, masks_for_step: Callable[[int], Callable]) -> tuple[list[torch.Tensor], list[dict]]:
    """SGD with momentum over the batches; the loss of each step and the dropout masks it used."""
    optimizer = SGD(net.parameters(), lr=lr, momentum=momentum)
    losses, masks = [], []
    for step, (x, y) in enumerate(batches, start=1):
        try:
            p = forward_pass(net, x.to(dtype), y, loss_fn, masks_for_step(step))  # zeroes the grads first
            backward_pass(p)
        except SwapError as exc:
            exc.step = step  # for the report: when the layer broke
            raise
        optimizer.step()
        losses.append(p.loss.detach().clone())
        masks.append(p.masks)
    return losses, masks


def _state(net: torch.nn.Module, name: str) -> dict[str, torch.Tensor]:
    """A layer's params and buffers by name (weight, bias, running_mean, running_var)."""
    module = getattr(net, name)
    tensors = dict(module.named_parameters(recurse=False))
    tensors.update((k, v) for k, v in module.named_buffers(recurse=False) if k not in SKIPPED_BUFFERS)
    return tensors


def train_model(model: str, specs: list[LayerSpec], make_layer: Callable[[LayerSpec], Any], *, dtype: str,
                weights_path: Path, seed: int, batches: list, tol: Tolerance | None, lr: float,
                momentum: float) -> list[CheckResult]:
    """One model trained twice from the same weights, torch alone and with ``specs`` swapped: crash rows first,
    then the loss of every step, then the checked layers' params and buffers after the last step."""
    tdtype = getattr(torch, dtype)
    pristine = torch_model(model, dtype, weights_path, seed=seed)
    generator = torch.Generator().manual_seed(seed)

    def draw(name: str, shape: tuple, mdtype: torch.dtype) -> torch.Tensor:
        p = getattr(pristine, name).p
        return torch.bernoulli(torch.full(shape, 1 - p, dtype=mdtype), generator=generator) / (1 - p)

    ref = copy.deepcopy(pristine)
    ref_losses, ref_masks = _train(ref, F.nll_loss, batches, tdtype, lr=lr, momentum=momentum,
                                   masks_for_step=lambda step: draw)
    label = "" if model == BASE else f"{model}, "
    errors: list[CheckResult] = []
    failed: set[str] = set()
    while True:  # a layer that crashes is reported and training repeated without it
        layers, build_errors = build_layers([s for s in specs if s.name not in failed], make_layer)
        for name, message in build_errors.items():
            errors.append(CheckResult(name, "output", MODE, dtype, error=message, case=f"{label}build"))
            failed.add(name)
        try:
            net, loss_fn = swapped_copy(pristine, layers)
            losses, _ = _train(net, loss_fn, batches, tdtype, lr=lr, momentum=momentum,
                               masks_for_step=lambda step: lambda name, shape, mdtype: ref_masks[step - 1].get(name))
            break
        except SwapError as exc:
            if exc.layer_name not in layers:
                raise
            tensor = "grad_input" if exc.stage == "backward" else ("loss" if exc.layer_name == LOSS_SPEC.name else "output")
            errors.append(CheckResult(exc.layer_name, tensor, MODE, dtype, error=str(exc), case=f"{label}step {exc.step}"))
            failed.add(exc.layer_name)

    def row(layer: str, tensor: str, actual: Any, expected: Any, kind: str, case: str) -> CheckResult:
        atol, rtol = (tol[0], tol[1]) if tol else tolerance(dtype, kind)[:2]
        return CheckResult(layer, tensor, MODE, dtype, case=case,
                           comparison=compare(actual, expected, atol=atol, rtol=rtol, name=f"{layer}.{tensor}"))

    results = errors + [row(LOSS_SPEC.name, "loss", got, want, "train_loss", f"{label}step {k}")
                        for k, (got, want) in enumerate(zip(losses, ref_losses), start=1)]
    for spec in specs:
        if spec.name == LOSS_SPEC.name or spec.name in failed:
            continue
        got = _state(net, spec.name)
        for key, want in _state(ref, spec.name).items():
            results.append(row(spec.name, key, got.get(key), want, "train_param", f"{label}after {len(batches)} steps"))
    return results


def default_batch_size(layer_names: list[str], make_layer: Callable[[LayerSpec], Any], phase0: Phase0 | None) -> int:
    """32 (half of LeNet's training batch: `check all` stays within seconds); 8 for pure-Python layers."""
    from lenet_parity.custom_layers.protocol import array_kind

    for specs in group_layers(list(layer_names), phase0).values():
        for spec in specs:
            try:
                if array_kind(make_layer(spec)) == "list":
                    return 8
            except Exception:  # noqa: BLE001 - a broken user layer is reported by the run itself
                continue
    return 32


def run_train(layer_names: list[str], make_layer: Callable[[LayerSpec], Any], *, dtype: str, phase0: Phase0 | None,
              weights_path: Path, tol: Tolerance | None = None, steps: int = 20, lr: float = 0.01,
              momentum: float = 0.9, batch_size: int | None = None, data_root: Path = Path("data"), seed: int = 42,
              **_options: Any) -> list[CheckResult]:
    """The named layers swapped into LeNet, trained ``steps`` SGD steps next to pure torch from the same weights.

    Batches: the first ``steps`` of the training loop's seeded order (reference/training.py's batch_order,
    epoch 1) over MNIST's training images, no augmentation. Layers of the variants model train in
    LeNet(VARIANTS_CONFIG) seeded like Phase 0, with dropout masks drawn once and shared.
    ``batch_size`` defaults to 32, or 8 when the layers are pure Python (array_kind "list", ~100x slower).
    """
    if batch_size is None:
        batch_size = default_batch_size(layer_names, make_layer, phase0)
    if steps < 1 or batch_size < 2 or not lr > 0 or not momentum >= 0:  # batchnorm needs two values a channel
        raise UserInputError(f"train mode needs steps >= 1, batch_size >= 2, lr > 0 and momentum >= 0; got "
                             f"steps={steps}, batch_size={batch_size}, lr={lr}, momentum={momentum}")
    groups = group_layers(list(layer_names), phase0)
    seed_of_variants = int(phase0.meta.get("seed", 42)) if phase0 is not None else 42
    results = []
    with capture_threads():
        batches = mnist_batches(Path(data_root), steps, batch_size, seed)
        for model, specs in groups.items():
            results += train_model(model, specs, make_layer, dtype=dtype, weights_path=Path(weights_path),
                                   seed=seed_of_variants if model != BASE else seed, batches=batches, tol=tol,
                                   lr=lr, momentum=momentum)
    return results
