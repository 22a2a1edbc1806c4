"""An adapter file (TOML), one per assignment: what detection cannot find, declared for each layer type.

    convention = "attributes"        # optional: one convention for every layer

    [dense]                          # a layer type: conv, pool, relu, dense, flatten, logsoftmax, loss
    class = "FullyConnected"         # the class; or forward = "fc_fwd" and backward = "fc_bwd" (functions)
    arguments = { in_features = "n_in", out_features = "n_out" }   # torch keyword -> the class's parameter
    weight = "kernel"                # where the weight lives: an attribute, or a key of its params dict
    bias = "offset"
    grad_weight = "kernel_grad"      # where backward leaves the gradients
    grad_bias = "offset_grad"
    weight_layout = "in,out"         # torch (out, in), "in,out"; conv: torch, "hwio", "ohwi"

Read in the checker (plain data, checked here: an unknown key or layer type is one line naming the file); the
worker's adapters take it as ``declared``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lenet_parity.conventions import CONVENTIONS
from lenet_parity.errors import UserInputError
from lenet_parity.toml_file import read_toml

LAYER_TYPES = {"conv": "Conv2d", "pool": "MaxPool2d", "relu": "ReLU", "dense": "Linear", "flatten": "Flatten",
               "logsoftmax": "LogSoftmax", "loss": "NLLLoss"}
KEYS = {"class": str, "forward": str, "backward": str, "convention": str, "arguments": dict, "weight": str,
        "bias": str, "grad_weight": str, "grad_bias": str, "weight_layout": str}
LAYOUTS = ("torch", "in,out", "hwio", "ohwi")


def read_adapter(path: str | Path) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """(the file's convention or None, torch class -> what is declared for it); bad input is one line."""
    path = Path(path)
    document = read_toml(path, "--adapter")
    convention = document.pop("convention", None)
    if convention is not None and convention not in CONVENTIONS:
        raise UserInputError(f"--adapter {path}: convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")
    declared: dict[str, dict[str, Any]] = {}
    for layer_type, table in document.items():
        if layer_type not in LAYER_TYPES or not isinstance(table, dict):
            raise UserInputError(f"--adapter {path}: [{layer_type}] is not a layer type; the types are "
                                 f"{', '.join(LAYER_TYPES)}")
        for key, value in table.items():
            if key not in KEYS:
                raise UserInputError(f"--adapter {path}: [{layer_type}] {key} is not a key of an adapter file; the "
                                     f"keys are {', '.join(KEYS)}")
            if not isinstance(value, KEYS[key]):
                raise UserInputError(f"--adapter {path}: [{layer_type}] {key} must be a {KEYS[key].__name__}")
        if table.get("weight_layout", "torch") not in LAYOUTS:
            raise UserInputError(f"--adapter {path}: [{layer_type}] weight_layout {table['weight_layout']!r}; choose "
                                 f"one of {', '.join(LAYOUTS)}")
        if table.get("convention", convention or "attributes") not in CONVENTIONS:
            raise UserInputError(f"--adapter {path}: [{layer_type}] convention {table['convention']!r}; choose one "
                                 f"of {', '.join(CONVENTIONS)}")
        declared[LAYER_TYPES[layer_type]] = dict(table)
    return convention, declared
