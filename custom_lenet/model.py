"""The whole LeNet from our own layers (NumPy or pure Python), the twin of reference/model.py's torch LeNet.

Built from ``layer_plan(config)`` like the torch model, so the submodules, the state names (``conv1.weight``,
``bn1.running_var``, ...) and their shapes are torch's, and a weights JSON from any backend loads in any other.
"""

from __future__ import annotations

import copy
import math
import os
from typing import Any

import numpy as np

from lenet_parity.errors import UserInputError
from lenet_parity.golden import encode_tensor, write_document
from lenet_parity.custom_layers.backends import layer_class
from lenet_parity.reference.config import LeNetConfig
from lenet_parity.reference.layers import layer_plan
from lenet_parity.vocabulary import DTYPES, FLOAT64, LAYER_BACKENDS, PYTHON
from lenet_parity.reference.weights import (WEIGHTS_KIND, WEIGHTS_VERSION, WeightsFile, check_compatible,
                                            read_weights)

COUNTER = "num_batches_tracked"  # torch's batchnorm buffer (int64, shape ()); the custom layers do not keep it


def check_backend(backend: str, dtype: str) -> None:
    """UserInputError unless ``backend`` is one of ours and can compute in ``dtype`` (Python floats are float64)."""
    if backend not in LAYER_BACKENDS:
        raise UserInputError(f"unknown custom backend {backend!r}; choose one of {', '.join(LAYER_BACKENDS)}")
    if dtype not in DTYPES:
        raise UserInputError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if backend == PYTHON and dtype != FLOAT64:
        raise UserInputError("the python backend computes with Python floats (float64): pass --dtype float64")


class CustomLeNet:
    """LeNet on custom layers: ``forward(x) -> logp``, ``backward(dlogp) -> dx``, torch's state names.

    ``backend`` is ``"numpy"`` (arrays of ``dtype``) or ``"python"`` (nested lists of Python floats, which
    are float64, so only ``dtype="float64"``). Inputs may be numpy arrays, torch tensors or nested lists.
    """

    def __init__(self, backend: str, config: LeNetConfig = LeNetConfig(), dtype: str = "float32"):
        check_backend(backend, dtype)
        self.backend, self.config, self.dtype = backend, config, dtype
        self.plan = layer_plan(config)
        self.layers: dict[str, Any] = {spec.name: layer_class(backend, spec.cls)(**spec.kwargs) for spec in self.plan}
        self.batches_tracked = {spec.name: 0 for spec in self.plan if spec.kind == "batchnorm"}
        self.training = True
        for layer in self.layers.values():  # the layers' own defaults, in this model's dtype
            for key, value in list(layer.params.items()):
                layer.params[key] = self._array(value, np.shape(value))

    # --- arrays of this backend ---
    def _array(self, values: Any, shape: tuple[int, ...]) -> Any:
        """Values (flat or nested) as this backend's array of the given shape, a fresh copy."""
        a = np.array(values, dtype=self.dtype).reshape(shape)
        return a if self.backend == "numpy" else a.tolist()

    def to_input(self, x: Any) -> Any:
        """A batch (numpy, torch or nested list) as this backend's input, shape-checked (N, C, H, W)."""
        if hasattr(x, "detach"):  # a torch tensor
            x = x.detach().cpu().numpy()
        a = np.asarray(x)
        c = self.config
        if a.ndim != 4 or a.shape[1:] != (c.in_channels, c.image_size, c.image_size):
            raise ValueError(f"CustomLeNet.forward: x has shape {a.shape}, expected "
                             f"(N, {c.in_channels}, {c.image_size}, {c.image_size})")
        if self.backend == "numpy":
            return np.ascontiguousarray(a, dtype=self.dtype)
        return a.astype(np.float64).tolist()

    def to_numpy(self, y: Any) -> np.ndarray:
        return np.asarray(y, dtype=self.dtype)

    # --- the model ---
    def train(self) -> "CustomLeNet":
        return self._set_training(True)

    def eval(self) -> "CustomLeNet":
        return self._set_training(False)

    def _set_training(self, mode: bool) -> "CustomLeNet":
        self.training = mode
        for layer in self.layers.values():
            if hasattr(layer, "training"):
                layer.training = mode
        return self

    def forward(self, x: Any, trace: dict[str, Any] | None = None) -> Any:
        """Log-probabilities (N, num_classes); ``trace``, if given, receives each layer's output by name."""
        h = self.to_input(x)
        for name, layer in self.layers.items():
            h = layer.forward(h)
            if self.training and name in self.batches_tracked:
                self.batches_tracked[name] += 1  # what torch counts in num_batches_tracked
            if trace is not None:
                trace[name] = h
        return h

    __call__ = forward

    def backward(self, dlogp: Any, trace: dict[str, Any] | None = None) -> Any:
        """Through every layer in reverse; returns dx; ``trace``, if given, receives each layer's dx by name."""
        if hasattr(dlogp, "detach"):  # a torch tensor
            dlogp = dlogp.detach().cpu().numpy()
        if self.backend == "numpy":
            dy = np.asarray(dlogp, dtype=self.dtype)
        else:
            dy = dlogp if isinstance(dlogp, list) else np.asarray(dlogp, dtype=np.float64).tolist()
        for name in reversed(self.layers):
            dy = self.layers[name].backward(dy)
            if trace is not None:
                trace[name] = dy
        return dy

    @property
    def grads(self) -> dict[str, Any]:
        """The last backward's parameter gradients, by torch's names (``conv1.weight``, ...)."""
        return {f"{name}.{key}": g for name, layer in self.layers.items() for key, g in layer.grads.items()}

    def trainable_layers(self) -> dict[str, Any]:
        """name -> layer for every layer with a weight: what the optimisers take (slots ``conv1.weight`` ...)."""
        return {name: layer for name, layer in self.layers.items() if "weight" in layer.params}

    # --- state: torch's state_dict names, order and shapes ---
    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {}
        for name, layer in self.layers.items():
            for key, value in layer.params.items():
                shapes[f"{name}.{key}"] = tuple(np.shape(value))
            if name in self.batches_tracked:
                shapes[f"{name}.{COUNTER}"] = ()
        return shapes

    def state_dict(self) -> dict[str, Any]:
        """A deep copy of every parameter and buffer, by torch's names."""
        state = {}
        for name, layer in self.layers.items():
            for key, value in layer.params.items():
                state[f"{name}.{key}"] = copy.deepcopy(value)
            if name in self.batches_tracked:
                state[f"{name}.{COUNTER}"] = self.batches_tracked[name]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        expected = self.state_shapes()
        if sorted(state) != sorted(expected):
            raise ValueError(f"state names {sorted(state)} != the model's {sorted(expected)}")
        for full, shape in expected.items():
            name, key = full.rsplit(".", 1)
            if key == COUNTER:
                self._set_counter(name, int(state[full]))
            else:
                if tuple(np.shape(state[full])) != shape:
                    raise ValueError(f"{full}: shape {np.shape(state[full])} != {shape}")
                self.layers[name].params[key] = self._array(state[full], shape)

    def _set_counter(self, name: str, count: int) -> None:
        self.batches_tracked[name] = count
        if hasattr(self.layers[name], COUNTER):  # the python batchnorm keeps one (for momentum=None)
            setattr(self.layers[name], COUNTER, count)

    def load_weights(self, weights: WeightsFile | str | os.PathLike) -> None:
        """Copy a weights JSON in, after checking the config, every name and every shape (nanoGPT's rule)."""
        if not isinstance(weights, WeightsFile):
            weights = read_weights(weights)
        if weights.config != self.config:
            raise UserInputError(f"{weights.path}: written for {weights.config}, this model is {self.config}")
        check_compatible(weights, self.state_shapes())
        for full, (flat, shape, _) in weights.tensors.items():
            name, key = full.rsplit(".", 1)
            if key == COUNTER:
                self._set_counter(name, int(flat[0]))
            else:
                self.layers[name].params[key] = self._array(flat, tuple(shape))

    def to_weights_document(self, *, seed: int | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """The weights JSON document (reference/weights.py's format), readable by every backend."""
        tensors = []
        for full, value in self.state_dict().items():
            if full.endswith("." + COUNTER):
                record = encode_tensor([int(value)], [], "int64")
            else:
                a = np.asarray(value, dtype=self.dtype)
                record = encode_tensor(a.reshape(-1).tolist(), list(a.shape), self.dtype)
            tensors.append({"name": full, **record})
        return {
            "format_version": WEIGHTS_VERSION,
            "kind": WEIGHTS_KIND,
            "torch_version": "none",  # written without torch
            "seed": seed,
            "config": self.config.to_dict(),
            "meta": {"backend": self.backend, "dtype": self.dtype, **(meta or {})},
            "tensors": tensors,
        }

    def save_weights(self, path: str | os.PathLike, *, seed: int | None = None, meta: dict[str, Any] | None = None) -> None:
        write_document(path, self.to_weights_document(seed=seed, meta=meta))

    @classmethod
    def from_weights(cls, backend: str, weights: WeightsFile | str | os.PathLike, dtype: str = "float32") -> "CustomLeNet":
        if not isinstance(weights, WeightsFile):
            weights = read_weights(weights)
        model = CustomLeNet(backend, weights.config, dtype)
        model.load_weights(weights)
        return model

    def num_params(self) -> int:
        return sum(math.prod(np.shape(layer.params[k])) for layer in self.trainable_layers().values()
                   for k in ("weight", "bias") if k in layer.params)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}(backend={self.backend!r}, dtype={self.dtype!r}, config={self.config})"]
        lines += [f"  ({name}): {layer!r}" for name, layer in self.layers.items()]
        return "\n".join(lines)


class NumpyLeNet(CustomLeNet):
    """LeNet on the NumPy layers, float32 or float64."""

    def __init__(self, config: LeNetConfig = LeNetConfig(), dtype: str = "float32"):
        super().__init__("numpy", config, dtype)


class PythonLeNet(CustomLeNet):
    """LeNet on the pure-Python layers (nested lists of Python floats: float64)."""

    def __init__(self, config: LeNetConfig = LeNetConfig(), dtype: str = "float64"):
        super().__init__(PYTHON, config, dtype)


def build_custom_model(backend: str, weights: WeightsFile | str | os.PathLike, dtype: str = "float32") -> CustomLeNet:
    """The custom twin of reference.weights.build_torch_model."""
    return CustomLeNet.from_weights(backend, weights, dtype)
