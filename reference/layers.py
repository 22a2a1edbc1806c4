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


KINDS = ("conv", "pool", "relu", "dense", "flatten", "logsoftmax", "loss", "batchnorm", "dropout", "residual")


def layer_plan(config: LeNetConfig) -> list[LayerSpec]:
    """LeNet's layers in forward order for this config (the loss is not a layer of the model)."""
    c = config
    plan = [LayerSpec("conv1", "conv", "Conv2d", dict(in_channels=c.in_channels, out_channels=6, kernel_size=5))]
    if c.batchnorm:
        plan.append(LayerSpec("bn1", "batchnorm", "BatchNorm2d", dict(num_features=6)))
    plan += [
        LayerSpec("relu1", "relu", "ReLU"),
        LayerSpec("pool1", "pool", "MaxPool2d", dict(kernel_size=2)),
    ]
    if c.residual:
        plan.append(LayerSpec("res1", "residual", "Residual", dict(channels=6, kernel_size=3)))
    plan.append(LayerSpec("conv2", "conv", "Conv2d", dict(in_channels=6, out_channels=16, kernel_size=5)))
    if c.batchnorm:
        plan.append(LayerSpec("bn2", "batchnorm", "BatchNorm2d", dict(num_features=16)))
    plan += [
        LayerSpec("relu2", "relu", "ReLU"),
        LayerSpec("pool2", "pool", "MaxPool2d", dict(kernel_size=2)),
        LayerSpec("flatten", "flatten", "Flatten"),
    ]
    for i, (n_in, n_out) in enumerate([(c.flat_features, 120), (120, 84)], start=1):
        plan.append(LayerSpec(f"fc{i}", "dense", "Linear", dict(in_features=n_in, out_features=n_out)))
        if c.batchnorm:
            plan.append(LayerSpec(f"bn{i + 2}", "batchnorm", "BatchNorm1d", dict(num_features=n_out)))
        plan.append(LayerSpec(f"relu{i + 2}", "relu", "ReLU"))
        if c.dropout > 0:
            plan.append(LayerSpec(f"drop{i}", "dropout", "Dropout", dict(p=c.dropout)))
    plan += [
        LayerSpec("fc3", "dense", "Linear", dict(in_features=84, out_features=c.num_classes)),
        LayerSpec("logsoftmax", "logsoftmax", "LogSoftmax", dict(dim=1)),
    ]
    return plan


LOSS_SPEC = LayerSpec("loss", "loss", "NLLLoss")
