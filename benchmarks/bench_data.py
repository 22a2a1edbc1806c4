"""The benchmark's data and models: real MNIST when data/ has it (else seeded random data of MNIST's shape),
the torch LeNet from the seed-42 weights (else a seeded LeNet), and custom LeNets holding the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lenet_parity.errors import UserInputError
from lenet_parity.custom_lenet.model import CustomLeNet
from lenet_parity.reference.determinism import seed_everything
from lenet_parity.reference.model import LeNet

MNIST_TRAIN, MNIST_TEST = 55_000, 10_000  # the training split after the 5,000-image validation set


@dataclass
class Data:
    source: str  # what the figures were measured on, for the output and the JSON
    x_train: torch.Tensor  # (N, 1, 28, 28) float32, normalised
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    background: list[float]  # the normalised value of a blank pixel (what random_shift fills with)


def load_data(root: Path) -> Data:
    from lenet_parity.reference.datasets import load_splits

    try:
        splits = load_splits("mnist", root)
    except (UserInputError, OSError) as error:
        g = torch.Generator().manual_seed(0)
        reason = str(error).split(";")[0]
        return Data(f"random data of MNIST's shape, N(0, 1) pixels, seeded ({reason})",
                    torch.randn(MNIST_TRAIN, 1, 28, 28, generator=g), torch.randint(0, 10, (MNIST_TRAIN,), generator=g),
                    torch.randn(MNIST_TEST, 1, 28, 28, generator=g), torch.randint(0, 10, (MNIST_TEST,), generator=g),
                    [0.0])
    x_train, y_train = splits.train.tensors
    x_test, y_test = splits.test.tensors
    background = [-m / s for m, s in zip(splits.mean, splits.std)]
    return Data(f"MNIST from {root} ({len(x_train)} training images, {len(x_test)} test images)",
                x_train, y_train, x_test, y_test, background)


class Models:
    """Fresh models with identical values: torch (float32) and the custom backends (any dtype)."""

    def __init__(self, weights: Path):
        self.weights = weights
        if weights.is_file():
            from lenet_parity.reference.weights import build_torch_model

            model, self.source = build_torch_model(weights), str(weights)
        else:
            seed_everything(42)
            model, self.source = LeNet(), f"a seeded LeNet (seed 42; {weights} not found: run make weights)"
        self.config, self._state = model.config, model.state_dict()

    def torch(self) -> LeNet:
        model = LeNet(self.config)
        model.load_state_dict(self._state)
        return model

    def custom(self, backend: str, dtype: str) -> CustomLeNet:
        model = CustomLeNet(backend, self.config, dtype)
        model.load_state_dict({name: t.detach().numpy().astype(np.float64 if dtype == "float64" else np.float32)
                               for name, t in self._state.items()})
        return model
