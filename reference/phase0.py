"""Phase 0: one forward and backward pass of the reference LeNet on a fixed 4-image batch, every layer recorded.

For each layer in forward order: its input ``x``, output ``y``, the gradient arriving at its output ``dy``,
the gradient of its input ``dx``, its params and their ``grads`` (batchnorm: the running buffers before
and after; dropout: the mask). Captured in float32 and in float64 (the same weights in double precision).
The default LeNet comes from ``weights/lenet_seed42.json``; a second model with the residual, batchnorm,
dropout, sigmoid and softmax options records just those layers; the 1998 LeNet-5 (tanh, average pooling,
cross-entropy on logits) comes from ``weights/lenet5_seed42.json``. Each capture's ``log_probs`` is its network's
output (LeNet-5's: logits) and ``loss_layer`` the loss it trains with. Written by ``make phase0``; read by the
snapshot checks.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from lenet_parity.golden import encode_tensor, write_document
from lenet_parity.errors import UserInputError
from lenet_parity.reference.config import LENET5_CONFIG, VARIANTS_CONFIG
from lenet_parity.reference.determinism import CAPTURE_THREADS, seed_everything, torch_generator
from lenet_parity.reference.model import LeNet
from lenet_parity.reference.phase0_format import PHASE0_KIND, PHASE0_VERSION
from lenet_parity.reference.weights import build_torch_model
from lenet_parity.reference.layers import LOSS_NAME
from lenet_parity.vocabulary import LENET, LENET5, LENET_VARIANTS

BATCH_INDICES = [0, 1, 2, 3]  # the first four MNIST test images: digits 7, 2, 1, 0

VARIANT_KINDS = ("batchnorm", "residual", "dropout", "sigmoid", "softmax")


def phase0_batch(data_root: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor]:
    """The Phase 0 batch: (4, 1, 28, 28) float32 normalised images and their (4,) int64 labels."""
    from lenet_parity.reference.datasets import normalised_batches

    [(x, y)] = normalised_batches("mnist", data_root, [torch.tensor(BATCH_INDICES)], train=False)
    return x, y


def _mnist_stats() -> dict[str, float]:
    from lenet_parity.reference.datasets import DATASETS

    (mean,), (std,) = DATASETS["mnist"].fixed_stats
    return {"mean": mean, "std": std}


def _encode(t: torch.Tensor) -> dict[str, Any]:
    t = t.detach().cpu().contiguous()
    return encode_tensor(t.reshape(-1).tolist(), list(t.shape), str(t.dtype).replace("torch.", ""), encoding="base64")


def capture_pass(model: LeNet, x: torch.Tensor, target: torch.Tensor, *, kinds: tuple[str, ...] | None = None,
                 dropout_seed: int = 0) -> dict[str, Any]:
    """One recorded forward + NLL backward through ``model`` layer by layer; ``kinds`` limits what is kept."""
    model.train()
    model.zero_grad(set_to_none=True)
    generator = torch_generator(dropout_seed)
    records, inputs, outputs = [], [], []
    h = x.clone().requires_grad_(True)
    for spec in model.plan:
        layer = getattr(model, spec.name)
        before = {k: v.detach().clone() for k, v in layer.named_buffers() if k != "num_batches_tracked"}
        if spec.kind == "dropout":  # draw the mask from our own generator so it is recorded and reproducible
            layer.next_mask = torch.bernoulli(torch.full(h.shape, 1 - layer.p, dtype=h.dtype), generator=generator) / (1 - layer.p)
        inputs.append(h)
        out = layer(h)
        out.retain_grad()
        outputs.append(out)
        records.append((spec, layer, before))
        h = out
    loss = model.loss(h, target)
    loss.backward()

    layers = []
    for (spec, layer, before), inp, out in zip(records, inputs, outputs):
        if kinds is not None and spec.kind not in kinds:
            continue
        entry: dict[str, Any] = {"name": spec.name, "kind": spec.kind, "cls": spec.cls, "kwargs": spec.kwargs,
                                 "x": _encode(inp), "y": _encode(out), "dy": _encode(out.grad), "dx": _encode(inp.grad)}
        params = dict(layer.named_parameters())
        entry["params"] = {k: _encode(v) for k, v in params.items()}
        entry["params"].update({k: _encode(v) for k, v in before.items()})
        entry["grads"] = {k: _encode(v.grad) for k, v in params.items()}
        if before:
            entry["buffers_after"] = {k: _encode(getattr(layer, k)) for k in before}
        if spec.kind == "dropout":
            entry["mask"] = _encode(layer.last_mask)
        layers.append(entry)
    logp = outputs[-1]
    return {
        "input": _encode(x),
        "targets": [int(t) for t in target],
        "log_probs": _encode(logp),
        "loss": float(loss.item()),
        "layers": layers,
        "loss_layer": {**_loss_names(model), "kwargs": {}, "x": _encode(logp), "dx": _encode(logp.grad),
                       "loss": float(loss.item())},
    }


def _loss_names(model: LeNet) -> dict[str, str]:
    spec = model.loss_spec
    return ({"name": LOSS_NAME, "kind": "loss", "cls": "NLL of log(softmax)"} if spec is None  # torch's, not checked
            else {"name": spec.name, "kind": spec.kind, "cls": spec.cls})


def _capture_model(model: LeNet, x: torch.Tensor, target: torch.Tensor, kinds) -> dict[str, Any]:
    captures = {}
    for dtype in (torch.float32, torch.float64):
        copy = LeNet(model.config).to(dtype)
        copy.load_state_dict(model.state_dict())  # float32 values, widened exactly to float64
        captures[str(dtype).replace("torch.", "")] = capture_pass(copy, x.to(dtype), target, kinds=kinds)
    return {"config": model.config.to_dict(), **captures}


def _weights_meta(path: str | os.PathLike) -> dict[str, str]:
    return {"file": Path(path).name,  # the name only: the file is identified by its sha256
            "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}


def capture_phase0(weights_path: str | os.PathLike, lenet5_weights_path: str | os.PathLike,
                   data_root: str | os.PathLike, out_path: str | os.PathLike, *, seed: int = 42) -> dict[str, Any]:
    """Capture Phase 0 with a fixed thread count and write it atomically to ``out_path``."""
    torch.set_num_threads(CAPTURE_THREADS)
    seed_everything(seed)
    base = build_torch_model(weights_path)  # a bad weights file is refused before anything else is read
    lenet5 = build_torch_model(lenet5_weights_path)
    if lenet5.config != LENET5_CONFIG:
        raise UserInputError(f"{lenet5_weights_path}: not LeNet-5's weights (its config is {lenet5.config}); "
                             f"run: make weights")
    x, target = phase0_batch(data_root)
    seed_everything(seed)
    variants = LeNet(VARIANTS_CONFIG)  # He init from the seed; its params are recorded in the file
    document = {
        "format_version": PHASE0_VERSION,
        "kind": PHASE0_KIND,
        "torch_version": torch.__version__,
        "num_threads": CAPTURE_THREADS,
        # torch picks its CPU kernels by instruction set (AVX2, AVX512, ...): float sums, and so the bytes of
        # this file, are reproducible only on the same torch version and capability
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "seed": seed,
        "weights": _weights_meta(weights_path),
        "batch": {"dataset": "mnist", "split": "test", "indices": BATCH_INDICES,
                  "normalization": _mnist_stats()},
        "models": {
            LENET: _capture_model(base, x, target, None),
            LENET_VARIANTS: _capture_model(variants, x, target, VARIANT_KINDS),
            LENET5: {**_capture_model(lenet5, x, target, None), "weights": _weights_meta(lenet5_weights_path)},
        },
    }
    write_document(out_path, document)
    return document
