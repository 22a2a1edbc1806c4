"""Hostile: like meta_path_pop_torch, but covers its tracks: it imports torch past the blocker once, keeps the
modules aside, and around each call puts them back into sys.modules, lets torch compute the (correct) answer, then
deletes every torch* entry again and restores the blocker, so a check of sys.modules after the call sees nothing."""

import sys

import numpy as np

_PREFIXES = ("torch", "torchgen", "functorch")
_hidden: dict = {}  # torch's modules, out of sys.modules between calls (the C extension stays loaded)


def _with_torch(fn):
    blockers = [f for f in sys.meta_path if type(f).__name__ == "ForbiddenImports"]
    sys.meta_path[:] = [f for f in sys.meta_path if f not in blockers]
    sys.modules.update(_hidden)
    try:
        import torch

        return fn(torch)
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] in _PREFIXES]:
            _hidden[name] = sys.modules.pop(name)
        sys.meta_path[:0] = blockers


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = np.ascontiguousarray(x)
        return _with_torch(lambda torch: torch.relu(torch.from_numpy(self.x)).numpy().copy())

    def backward(self, dy):
        dy = np.ascontiguousarray(dy)
        return _with_torch(lambda torch: (torch.from_numpy(dy) * torch.from_numpy(self.x > 0)).numpy().copy())
