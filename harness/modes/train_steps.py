"""The train mode: N steps of SGD with momentum on real MNIST batches, the hybrid LeNet against pure torch.

Both models start from the same weights and see the same batches and dropout masks; compared are the loss
at every step (layer "loss", tensor "loss", case "step k") and, after the last step, each checked layer's
params (tensors "weight", "bias") and batchnorm running stats, so drift that one batch hides shows up.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Callable

import torch

from lenet_parity.errors import UserInputError
from lenet_parity.harness.compare import compare
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.diagnosis import diagnose_values
from lenet_parity.harness.modes.hybrid import (backward_pass, build_layers, capture_threads, forward_pass, group_layers,
                                               model_source, swapped_copy, torch_model)
from lenet_parity.harness.results import CheckResult
from lenet_parity.harness.swap import SKIPPED_BUFFERS, SwapError
from lenet_parity.harness.torch_cache import digest, golden_seal, shared
from lenet_parity.reference.layers import LOSS_NAME, LayerSpec
from lenet_parity.reference.phase0_format import Phase0
from lenet_parity.vocabulary import DEFAULT_TRAIN_BATCHES, GRAD_INPUT, LENET_VARIANTS, LOSS, NETWORK, OUTPUT, TRAIN


def mnist_batches(data_root: Path, steps: int, batch_size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``steps`` batches of epoch 1 of the training loop's seeded order over MNIST's 60,000 images,
    normalised as training normalises them: [(x float32 (B, 1, 28, 28), y int64 (B,))]. From the batches shipped
    in the package when they cover the request (the default seed, steps * batch_size <= 1280), else from MNIST
    under ``data_root``. Read once per process while the shipped file is pinned (a copy each)."""
    seal = golden_seal(DEFAULT_TRAIN_BATCHES)
    cache_key = None if seal is None else (seal, os.path.realpath(data_root), steps, batch_size, seed)
    return shared("batches", cache_key, lambda: _read_batches(data_root, steps, batch_size, seed))


def _read_batches(data_root: Path, steps: int, batch_size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    from lenet_parity.reference.data_fetch import dataset_spec
    from lenet_parity.reference.datasets import DATASETS, normalise, normalised_batches
    from lenet_parity.reference.train_batches import read_train_batches
    from lenet_parity.reference.training import batch_order

    shipped = read_train_batches(DEFAULT_TRAIN_BATCHES)
    if shipped.covers(steps, batch_size, seed):
        stats = DATASETS["mnist"].fixed_stats
        return [(normalise(images, *stats), labels) for images, labels in shipped.batches(steps, batch_size)]
    train_images = dataset_spec("mnist").files[0].shape[0]  # 60,000
    order = batch_order(train_images, batch_size, seed, 1)
    if steps > len(order):
        raise UserInputError(f"--steps {steps} is more than one epoch ({len(order)} batches of {batch_size})")
    return normalised_batches("mnist", data_root, order[:steps])


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


def _reference_run(pristine: torch.nn.Module, batches: list, dtype: torch.dtype, *, lr: float, momentum: float,
                   seed: int) -> tuple[list[torch.Tensor], list[dict], dict[str, dict[str, torch.Tensor]]]:
    """Pure torch trained on a copy of ``pristine``, dropout masks drawn from a generator seeded ``seed``: the
    loss of each step, the masks, and every layer's params and buffers after the last step."""
    generator = torch.Generator().manual_seed(seed)

    def draw(name: str, shape: tuple, mdtype: torch.dtype) -> torch.Tensor:
        p = getattr(pristine, name).p
        return torch.bernoulli(torch.full(shape, 1 - p, dtype=mdtype), generator=generator) / (1 - p)

    ref = copy.deepcopy(pristine)
    losses, masks = _train(ref, pristine.loss, batches, dtype, lr=lr, momentum=momentum,
                           masks_for_step=lambda step: draw)
    return losses, masks, {spec.name: _state(ref, spec.name) for spec in ref.plan}


def _state(net: torch.nn.Module, name: str) -> dict[str, torch.Tensor]:
    """A layer's params and buffers by name (weight, bias, running_mean, running_var)."""
    module = getattr(net, name)
    tensors = dict(module.named_parameters(recurse=False))
    tensors.update((k, v) for k, v in module.named_buffers(recurse=False) if k not in SKIPPED_BUFFERS)
    return tensors


def train_model(model: str, specs: list[LayerSpec], context: CheckContext, *, seed: int,
                batches: list) -> list[CheckResult]:
    """One model trained twice from the same weights, torch alone and with ``specs`` swapped: crash rows first,
    then the loss of every step, then the checked layers' params and buffers after the last step."""
    dtype, weights_path, lr, momentum = context.dtype, context.weights, context.train.lr, context.train.momentum
    tdtype = getattr(torch, dtype)
    pristine = torch_model(model, dtype, weights_path, seed=seed)
    source = model_source(model, weights_path, seed)
    cache_key = None if source is None else (model, dtype, source, seed, lr, momentum, digest(batches))
    ref_losses, ref_masks, ref_states = shared("train", cache_key, lambda: _reference_run(
        pristine, batches, tdtype, lr=lr, momentum=momentum, seed=seed))
    label = "" if model != LENET_VARIANTS else f"{model}, "
    errors: list[CheckResult] = []
    failed: set[str] = set()
    while True:  # a layer that crashes is reported and training repeated without it
        layers, build_errors = build_layers([s for s in specs if s.name not in failed], context.make_layer)
        for name, message in build_errors.items():
            errors.append(CheckResult(name, OUTPUT, TRAIN, dtype, error=message, case=f"{label}build"))
            failed.add(name)
        try:
            net, loss_fn = swapped_copy(pristine, layers)
            losses, _ = _train(net, loss_fn, batches, tdtype, lr=lr, momentum=momentum,
                               masks_for_step=lambda step: lambda name, shape, mdtype: ref_masks[step - 1].get(name))
            break
        except SwapError as exc:
            if exc.layer_name not in layers:
                raise
            tensor = GRAD_INPUT if exc.stage == "backward" else (LOSS if exc.layer_name == LOSS_NAME else OUTPUT)
            when = exc.stage if exc.step is None else f"step {exc.step}"  # swap: before the first step
            errors.append(CheckResult(exc.layer_name, tensor, TRAIN, dtype, error=str(exc), case=f"{label}{when}"))
            failed.add(exc.layer_name)

    def row(layer: str, tensor: str, actual: Any, expected: Any, kind: str, case: str, origin: str = "") -> CheckResult:
        atol, rtol, _ = context.tolerance(kind)
        result = CheckResult(layer, tensor, TRAIN, dtype, case=case, origin=origin,
                             comparison=compare(actual, expected, atol=atol, rtol=rtol, name=f"{layer}.{tensor}"))
        if not result.comparison.passed:
            result.diagnosis = diagnose_values(tensor, actual, expected, atol, rtol)
        return result

    loss_origin = "" if any(s.name == LOSS_NAME for s in specs) else NETWORK  # the loss as the model's output

    results = errors + [row(LOSS_NAME, LOSS, got, want, "train_loss", f"{label}step {k}", loss_origin)
                        for k, (got, want) in enumerate(zip(losses, ref_losses), start=1)]
    for spec in specs:
        if spec.name == LOSS_NAME or spec.name in failed:
            continue
        got = _state(net, spec.name)
        for key, want in ref_states[spec.name].items():
            results.append(row(spec.name, key, got.get(key), want, "train_param", f"{label}after {len(batches)} steps"))
    return results


def default_batch_size(layer_names: list[str], make_layer: Callable[[LayerSpec], Any], phase0: Phase0 | None,
                       model: str | None = None) -> int:
    """32 (half of LeNet's training batch: `check all` stays within seconds); 8 for pure-Python layers."""
    from lenet_parity.custom_layers.protocol import array_kind

    for specs in group_layers(list(layer_names), phase0, model).values():
        for spec in specs:
            try:
                if array_kind(make_layer(spec)) == "list":
                    return 8
            except Exception:  # noqa: BLE001 - a broken user layer is reported by the run itself
                continue
    return 32


def run_train(layer_names: list[str], context: CheckContext) -> list[CheckResult]:
    """The named layers swapped into LeNet, trained ``context.train.steps`` SGD steps next to pure torch from the
    same weights.

    Batches: the first ``steps`` of the training loop's seeded order (reference/training.py's batch_order,
    epoch 1) over MNIST's training images, no augmentation. Layers of the variants model train in
    LeNet(VARIANTS_CONFIG) seeded like Phase 0, with dropout masks drawn once and shared.
    """
    options = context.train
    batch_size = options.batch_size or default_batch_size(layer_names, context.make_layer, context.phase0, context.model)
    if options.steps < 1 or batch_size < 2 or not options.lr > 0 or not options.momentum >= 0:
        raise UserInputError(f"train mode needs steps >= 1, batch_size >= 2 (batchnorm needs two values a channel), "
                             f"lr > 0 and momentum >= 0; got steps={options.steps}, batch_size={batch_size}, "
                             f"lr={options.lr}, momentum={options.momentum}")
    groups = group_layers(list(layer_names), context.phase0, context.model)
    seed_of_variants = int(context.phase0.meta.get("seed", 42)) if context.phase0 is not None else 42
    results = []
    with capture_threads():
        batches = mnist_batches(Path(context.data_root), options.steps, batch_size, options.seed)
        for model, specs in groups.items():
            seed = options.seed if model != LENET_VARIANTS else seed_of_variants
            results += train_model(model, specs, context, seed=seed, batches=batches)
    return results
