"""Hostile (issue 20, attack 3): the guards are Python globals of the worker. At import the layer empties
``__main__.FORBIDDEN`` (the tuple the audit hook reads at each event), removes every meta_path finder whose class
name contains "Forbidden", then imports torch, and lets torch compute forward and backward: exact answers, borrowed
from the answer key, so today's harness exits 0 (and ``grade`` says pass where a plain ``import torch`` fails).

A fixed harness does not rely on a global of the worker to forbid torch: the import still fails, so this module
cannot even be imported (exit 2, one line): "imports torch: not allowed", "No module named 'torch'", or, where the
sandbox hides torch's folder behind an empty one (then ``import torch`` finds an empty namespace package), the
AttributeError of the ``torch.relu`` looked up right after the import.
"""

import sys

import numpy as np

_main = sys.modules.get("__main__")
if _main is not None and hasattr(_main, "FORBIDDEN"):
    _main.FORBIDDEN = ()
sys.meta_path[:] = [f for f in sys.meta_path if "Forbidden" not in type(f).__name__ and "Forbidden" not in
                    getattr(f, "__name__", "")]

import torch  # noqa: E402 - after the guards are gone

_relu, _from_numpy = torch.relu, torch.from_numpy  # at import: a hidden (empty) torch fails here, not in forward


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = _from_numpy(np.array(x))
        return _relu(self.x).numpy()

    def backward(self, dy):
        return (_from_numpy(np.array(dy)) * (self.x > 0)).numpy()
