"""Weights as self-describing JSON (``weights/lenet_seed42.json``): export from torch, load back bit-exactly.

The file holds ``format_version``, the model config, the seed, the torch version and, for each tensor of
the state dict, its name, shape, dtype and values. Reading needs neither torch nor numpy
(:func:`read_weights`), so the pure-Python LeNet can use it too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lenet_parity.errors import UserInputError
from lenet_parity.golden import decode_tensor, encode_tensor, read_document, write_document
from lenet_parity.reference.config import LeNetConfig
from lenet_parity.vocabulary import DEFAULT_WEIGHTS

WEIGHTS_KIND = "lenet-parity/weights"
WEIGHTS_VERSION = 1
REGENERATE = "make weights"


@dataclass
class WeightsFile:
    path: Path
    config: LeNetConfig
    seed: int | None
    torch_version: str
    tensors: dict[str, tuple[list, list[int], str]]  # name -> (flat values, shape, dtype)
    meta: dict[str, Any]


def export_weights(model, path: str | os.PathLike, *, seed: int | None, meta: dict[str, Any] | None = None) -> None:
    """Write a torch LeNet's state dict (parameters and buffers) as weights JSON, atomically."""
    import torch

    tensors = []
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu()
        dtype = str(t.dtype).replace("torch.", "")
        record = encode_tensor(t.reshape(-1).tolist(), list(t.shape), dtype)
        tensors.append({"name": name, **record})
    document = {
        "format_version": WEIGHTS_VERSION,
        "kind": WEIGHTS_KIND,
        "torch_version": torch.__version__,
        "seed": seed,
        "config": model.config.to_dict(),
        "meta": meta or {},
        "tensors": tensors,
    }
    write_document(path, document)


def read_weights(path: str | os.PathLike) -> WeightsFile:
    """Read and validate a weights file (torch-free); every problem is a one-line UserInputError."""
    path = Path(path)
    document = read_document(path, kind=WEIGHTS_KIND, version=WEIGHTS_VERSION, regenerate=REGENERATE)
    try:
        config = LeNetConfig.from_dict(document["config"])
        tensors = {}
        for record in document["tensors"]:
            tensors[record["name"]] = decode_tensor(record, where=record["name"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserInputError(f"{path}: malformed weights file ({exc}); run: {REGENERATE}") from None
    return WeightsFile(path, config, document.get("seed"), document.get("torch_version", "?"), tensors,
                       document.get("meta", {}))


def check_compatible(weights: WeightsFile, expected: dict[str, tuple[int, ...]]) -> None:
    """Names and shapes must match exactly (nanoGPT's rule); the error lists what differs."""
    missing = [n for n in expected if n not in weights.tensors]
    unexpected = [n for n in weights.tensors if n not in expected]
    wrong = [f"{n} {tuple(weights.tensors[n][1])} != {tuple(s)}" for n, s in expected.items()
             if n in weights.tensors and tuple(weights.tensors[n][1]) != tuple(s)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if unexpected:
            parts.append(f"unexpected {unexpected}")
        if wrong:
            parts.append(f"wrong shapes {wrong}")
        raise UserInputError(f"{weights.path}: does not fit the model ({'; '.join(parts)}); "
                             f"export it from a model with config {weights.config}")


def load_into_torch(model, weights: WeightsFile | str | os.PathLike) -> None:
    """Copy a weights file into a torch model, bit-exact, after checking names and shapes."""
    import torch

    if not isinstance(weights, WeightsFile):
        weights = read_weights(weights)
    state = model.state_dict()
    check_compatible(weights, {name: tuple(t.shape) for name, t in state.items()})
    new_state = {}
    for name, (flat, shape, dtype) in weights.tensors.items():
        source = torch.tensor(flat, dtype=getattr(torch, dtype)).reshape(shape)
        new_state[name] = source.to(state[name].dtype)
    model.load_state_dict(new_state)


def build_torch_model(weights: WeightsFile | str | os.PathLike):
    """A torch LeNet with the config and values of a weights file."""
    from lenet_parity.reference.model import LeNet

    if not isinstance(weights, WeightsFile):
        weights = read_weights(weights)
    model = LeNet(weights.config)
    load_into_torch(model, weights)
    return model
