"""The layer plan of LeNet: each named submodule in forward order with its kind and torch arguments.

The torch model, the custom LeNets and the harness all build from this one list, so a layer has the
same name (``conv1`` ... ``fc3``) and the same constructor arguments everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lenet_parity.reference.config import LeNetConfig


@dataclass(frozen=True)
class LayerSpec:
    name: str  # submodule name in the torch model: conv1, relu1, pool1, ...
    kind: str  # check type: conv, pool, relu, dense, flatten, logsoftmax, batchnorm, dropout, residual
    cls: str  # class name, the same in torch.nn and in both custom backends
    kwargs: dict[str, Any] = field(default_factory=dict)  # the torch.nn constructor's keyword arguments


KINDS = ("conv", "pool", "avgpool", "relu", "tanh", "sigmoid", "dense", "flatten", "logsoftmax", "softmax", "loss",
         "crossentropy", "batchnorm", "dropout", "residual")

# an activation's kind and class: its layers are named <kind><i> (relu1, tanh3, sigmoid4)
_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}
_POOLS = {"max": ("pool", "MaxPool2d"), "avg": ("avgpool", "AvgPool2d")}
_HEADS = {"logsoftmax": LayerSpec("logsoftmax", "logsoftmax", "LogSoftmax", dict(dim=1)),
          "softmax": LayerSpec("softmax", "softmax", "Softmax", dict(dim=1))}


def _activation(kind: str, i: int) -> LayerSpec:
    return LayerSpec(f"{kind}{i}", kind, _ACTIVATIONS[kind])


def _pool(config: LeNetConfig, i: int) -> LayerSpec:
    kind, cls = _POOLS[config.pooling]
    return LayerSpec(f"pool{i}", kind, cls, dict(kernel_size=2))


def layer_plan(config: LeNetConfig) -> list[LayerSpec]:
    """LeNet's layers in forward order for this config (the loss is not a layer of the model: loss_spec)."""
    c = config
    conv1 = dict(in_channels=c.in_channels, out_channels=6, kernel_size=5)
    if c.conv1_padding:
        conv1["padding"] = c.conv1_padding
    plan = [LayerSpec("conv1", "conv", "Conv2d", conv1)]
    if c.batchnorm:
        plan.append(LayerSpec("bn1", "batchnorm", "BatchNorm2d", dict(num_features=6)))
    plan += [_activation(c.activation, 1), _pool(c, 1)]
    if c.residual:
        plan.append(LayerSpec("res1", "residual", "Residual", dict(channels=6, kernel_size=3)))
    plan.append(LayerSpec("conv2", "conv", "Conv2d", dict(in_channels=6, out_channels=16, kernel_size=5)))
    if c.batchnorm:
        plan.append(LayerSpec("bn2", "batchnorm", "BatchNorm2d", dict(num_features=16)))
    plan += [_activation(c.activation, 2), _pool(c, 2), LayerSpec("flatten", "flatten", "Flatten")]
    for i, (n_in, n_out) in enumerate([(c.flat_features, 120), (120, 84)], start=1):
        plan.append(LayerSpec(f"fc{i}", "dense", "Linear", dict(in_features=n_in, out_features=n_out)))
        if c.batchnorm:
            plan.append(LayerSpec(f"bn{i + 2}", "batchnorm", "BatchNorm1d", dict(num_features=n_out)))
        plan.append(_activation(c.fc_activation or c.activation, i + 2))
        if c.dropout > 0:
            plan.append(LayerSpec(f"drop{i}", "dropout", "Dropout", dict(p=c.dropout)))
    plan.append(LayerSpec("fc3", "dense", "Linear", dict(in_features=84, out_features=c.num_classes)))
    if c.head in _HEADS:
        plan.append(_HEADS[c.head])
    return plan


def loss_spec(config: LeNetConfig) -> LayerSpec | None:
    """The loss the model trains with, as a checkable layer: NLLLoss on log-probabilities, CrossEntropyLoss on
    logits; None for a softmax head (its loss, the NLL of log(p), is torch's own and never checked)."""
    if config.head == "logsoftmax":
        return LayerSpec("loss", "loss", "NLLLoss")
    if config.head == "logits":
        return LayerSpec("loss", "crossentropy", "CrossEntropyLoss")
    return None


LOSS_NAME = "loss"  # every model's loss is named so
LOSS_SPEC = loss_spec(LeNetConfig())  # LeNet's
