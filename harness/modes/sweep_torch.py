"""torch.nn.functional's answer for one sweep case: the output, and the gradients for a random upstream dy.

One small function per torch class maps the layer's constructor kwargs onto the functional call, with
torch's defaults (MaxPool2d's stride defaults to its kernel, BatchNorm's eps 1e-5 and momentum 0.1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lenet_parity.reference.layers import LayerSpec


def _conv2d(x, p, kw, extra):
    return F.conv2d(x, p["weight"], p.get("bias"), stride=kw.get("stride", 1), padding=kw.get("padding", 0))


def _max_pool2d(x, p, kw, extra):
    stride = kw.get("stride")
    return F.max_pool2d(x, kw["kernel_size"], kw["kernel_size"] if stride is None else stride)


def _linear(x, p, kw, extra):
    return F.linear(x, p["weight"], p.get("bias"))


def _batch_norm(x, p, kw, extra):
    # training mode: normalise with the batch statistics and update the running buffers in place
    return F.batch_norm(x, extra["running_mean"], extra["running_var"], p["weight"], p["bias"], training=True,
                        momentum=kw.get("momentum", 0.1), eps=kw.get("eps", 1e-5))


def _dropout(x, p, kw, extra):
    return x * extra["mask"]  # F.dropout draws its own mask; with the check's mask injected, torch's rule is x * mask


def _residual(x, p, kw, extra):
    return x + F.conv2d(x, p["weight"], p["bias"], padding=kw.get("kernel_size", 3) // 2)


FUNCTIONAL = {
    "Conv2d": _conv2d,
    "MaxPool2d": _max_pool2d,
    "ReLU": lambda x, p, kw, extra: F.relu(x),
    "Linear": _linear,
    "Flatten": lambda x, p, kw, extra: torch.flatten(x, kw.get("start_dim", 1), kw.get("end_dim", -1)),
    "LogSoftmax": lambda x, p, kw, extra: F.log_softmax(x, dim=kw.get("dim", 1)),
    "Softmax": lambda x, p, kw, extra: F.softmax(x, dim=kw.get("dim", 1)),
    "Tanh": lambda x, p, kw, extra: torch.tanh(x),
    "Sigmoid": lambda x, p, kw, extra: torch.sigmoid(x),
    "AvgPool2d": lambda x, p, kw, extra: F.avg_pool2d(x, kw["kernel_size"], kw.get("stride") or kw["kernel_size"]),
    "BatchNorm2d": _batch_norm,
    "BatchNorm1d": _batch_norm,
    "Dropout": _dropout,
    "Residual": _residual,
}

BUFFERS = ("running_mean", "running_var")
LOSSES = {"NLLLoss": F.nll_loss, "CrossEntropyLoss": F.cross_entropy}  # on log-probabilities, on logits


def lenet_shapes(catalogue: dict[str, tuple[str, LayerSpec]], phase0: Any) -> dict[str, tuple]:
    """Each layer's input shape in LeNet, without the batch, by torch's own rules: (1, 28, 28) for conv1, (10,)
    for the loss. ``catalogue`` is harness/layer_factory.py's, in forward order."""
    from lenet_parity.harness.layer_factory import model_configs

    config = model_configs(phase0)[next(iter(catalogue.values()))[0]]  # the model of the first layer
    shape: tuple = (config.in_channels, config.image_size, config.image_size)
    shapes = {}
    for name, (_, spec) in catalogue.items():
        shapes[name] = shape
        kw, weight = spec.kwargs, {}
        if spec.cls == "Conv2d":
            k = kw["kernel_size"]
            k = tuple(k) if isinstance(k, (tuple, list)) else (k, k)
            weight = {"weight": torch.zeros(kw["out_channels"], shape[0], *k)}
        elif spec.cls == "Linear":
            weight = {"weight": torch.zeros(kw["out_features"], shape[0])}
        elif spec.cls not in ("MaxPool2d", "AvgPool2d", "Flatten"):
            continue  # the others keep the shape (the variants' batchnorm, residual, dropout too)
        shape = tuple(FUNCTIONAL[spec.cls](torch.zeros(1, *shape), weight, kw, {}).shape[1:])
    return shapes


def log_softmax(logits: np.ndarray, dtype: str) -> np.ndarray:
    """torch's log-probabilities of some logits in the check dtype (the loss's input)."""
    return F.log_softmax(torch.tensor(logits, dtype=getattr(torch, dtype)), dim=1).numpy()


def reference(spec: LayerSpec, x: np.ndarray, params: dict[str, np.ndarray], dtype: str, rng: np.random.Generator,
              *, mask: np.ndarray | None = None, targets: np.ndarray | None = None,
              dy: np.ndarray | None = None) -> tuple[dict[str, Any], np.ndarray | None]:
    """(expected tensors, the random upstream gradient dy drawn for the output's shape, or the one given; None
    for the loss)."""
    tdtype = getattr(torch, dtype)
    xt = torch.tensor(x, dtype=tdtype, requires_grad=True)
    trainable = {k: torch.tensor(v, dtype=tdtype, requires_grad=True) for k, v in params.items() if k not in BUFFERS}
    extra = {k: torch.tensor(v, dtype=tdtype) for k, v in params.items() if k in BUFFERS}
    if spec.cls in LOSSES:
        loss = LOSSES[spec.cls](xt, torch.as_tensor(targets, dtype=torch.int64))
        (dx,) = torch.autograd.grad(loss, [xt])
        return {"loss": loss.item(), "grad_input": dx.numpy()}, None
    if mask is not None:
        extra["mask"] = torch.tensor(mask, dtype=tdtype)
    y = FUNCTIONAL[spec.cls](xt, trainable, spec.kwargs, extra)
    if dy is None:
        dy = rng.standard_normal(tuple(y.shape)).astype(dtype)  # random, never all ones: hides no transposition
    dy = np.asarray(dy, dtype=dtype)
    grads = torch.autograd.grad((y * torch.tensor(dy)).sum(), [xt, *trainable.values()])
    expected: dict[str, Any] = {"output": y.detach().numpy()}
    expected.update({k: extra[k].numpy() for k in BUFFERS if k in extra})
    expected["grad_input"] = grads[0].numpy()
    expected.update({f"grad_{k}": g.numpy() for k, g in zip(trainable, grads[1:])})
    return expected, dy
