"""Where each backend keeps each layer: ``layer_class("numpy", "Conv2d")`` is custom_layers/numpy/conv.py's Conv2d.

Both backends name their classes like torch.nn and their modules alike, so one table serves both.
"""

from __future__ import annotations

import importlib
from typing import Any

from lenet_parity.vocabulary import LAYER_BACKENDS

# torch class name -> the module of each backend that defines it
MODULES = {
    "Conv2d": "conv", "MaxPool2d": "pool", "ReLU": "activations", "Linear": "linear", "Flatten": "shape",
    "LogSoftmax": "softmax", "Softmax": "softmax", "BatchNorm2d": "batchnorm", "BatchNorm1d": "batchnorm",
    "Dropout": "dropout", "Residual": "residual", "NLLLoss": "losses", "CrossEntropyLoss": "losses",
    "Tanh": "activations", "Sigmoid": "activations", "AvgPool2d": "pool",
}


def layer_class(backend: str, torch_class: str) -> Any:
    """The backend's class mirroring ``torch.nn.<torch_class>``; ValueError for an unknown backend or class."""
    if backend not in LAYER_BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(LAYER_BACKENDS)}")
    if torch_class not in MODULES:
        raise ValueError(f"the {backend} backend has no layer for torch class {torch_class!r}")
    module = importlib.import_module(f"lenet_parity.custom_layers.{backend}.{MODULES[torch_class]}")
    return getattr(module, torch_class)
