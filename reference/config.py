"""The LeNet configuration: a frozen dataclass, shared by the torch model and the custom LeNets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


ACTIVATIONS = ("relu", "tanh", "sigmoid")
POOLINGS = ("max", "avg")
HEADS = ("logsoftmax", "softmax", "logits")


@dataclass(frozen=True)
class LeNetConfig:
    in_channels: int = 1  # 1 for MNIST / Fashion-MNIST, 3 for CIFAR-10
    image_size: int = 28  # square input side; 28 for MNIST, 32 for CIFAR-10
    num_classes: int = 10
    residual: bool = False  # add `res1`, x + conv3x3(x), after pool1
    batchnorm: bool = False  # BatchNorm after conv1, conv2 (2d) and fc1, fc2 (1d)
    dropout: float = 0.0  # dropout probability after the activations of fc1 and fc2; 0 disables it
    conv1_padding: int = 0  # 2 in the 1998 LeNet-5, whose conv1 keeps the 28x28 size
    activation: str = "relu"  # after each conv and hidden fc layer: relu, tanh or sigmoid
    fc_activation: str | None = None  # after the hidden fc layers, if not ``activation``
    pooling: str = "max"  # max (MaxPool2d) or avg (AvgPool2d, the 1998 subsampling)
    head: str = "logsoftmax"  # what fc3 feeds: logsoftmax (+ NLLLoss), softmax (+ NLL of its log), logits (+ CrossEntropyLoss)

    def __post_init__(self):
        if self.in_channels < 1 or self.num_classes < 2:
            raise ValueError(f"bad LeNetConfig: {self}")
        if self.pool2_size < 1:
            raise ValueError(f"image_size {self.image_size} is too small for LeNet (at least 16)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        for name, value, allowed in (("activation", self.activation, ACTIVATIONS),
                                     ("fc_activation", self.fc_activation, (None, *ACTIVATIONS)),
                                     ("pooling", self.pooling, POOLINGS), ("head", self.head, HEADS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")

    @property
    def conv1_size(self) -> int:  # 28 -> 24 (28 with padding 2)
        return self.image_size + 2 * self.conv1_padding - 4

    @property
    def pool1_size(self) -> int:  # 24 -> 12
        return self.conv1_size // 2

    @property
    def conv2_size(self) -> int:  # 12 -> 8
        return self.pool1_size - 4

    @property
    def pool2_size(self) -> int:  # 8 -> 4
        return self.conv2_size // 2

    @property
    def flat_features(self) -> int:  # 16 * 4 * 4 = 256 for MNIST (16 * 5 * 5 = 400 with padding 2)
        return 16 * self.pool2_size * self.pool2_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LeNetConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown LeNetConfig fields: {sorted(unknown)}")
        return cls(**data)


# The second model Phase 0 records: the options on, so batchnorm, residual, dropout, sigmoid and softmax layers
# are captured (LeNet and the 1998 LeNet-5 have none of them)
VARIANTS_CONFIG = LeNetConfig(residual=True, batchnorm=True, dropout=0.5, fc_activation="sigmoid", head="softmax")

# LeNet-5 as LeCun et al. published it in 1998: conv1 padded to keep 28x28, tanh, average pooling (subsampling),
# fc 400 -> 120 -> 84 -> 10, cross-entropy on the logits
LENET5_CONFIG = LeNetConfig(conv1_padding=2, activation="tanh", pooling="avg", head="logits")
