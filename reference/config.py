"""The LeNet configuration: a frozen dataclass, shared by the torch model and the custom LeNets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LeNetConfig:
    in_channels: int = 1  # 1 for MNIST / Fashion-MNIST, 3 for CIFAR-10
    image_size: int = 28  # square input side; 28 for MNIST, 32 for CIFAR-10
    num_classes: int = 10
    residual: bool = False  # add `res1`, x + conv3x3(x), after pool1
    batchnorm: bool = False  # BatchNorm after conv1, conv2 (2d) and fc1, fc2 (1d)
    dropout: float = 0.0  # dropout probability after relu3 and relu4; 0 disables it

    def __post_init__(self):
        if self.in_channels < 1 or self.num_classes < 2:
            raise ValueError(f"bad LeNetConfig: {self}")
        if self.pool2_size < 1:
            raise ValueError(f"image_size {self.image_size} is too small for LeNet (at least 16)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def conv1_size(self) -> int:  # 28 -> 24
        return self.image_size - 4

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
    def flat_features(self) -> int:  # 16 * 4 * 4 = 256 for MNIST
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


# The second model Phase 0 records: every option on, so batchnorm, residual and dropout layers are captured
VARIANTS_CONFIG = LeNetConfig(residual=True, batchnorm=True, dropout=0.5)
