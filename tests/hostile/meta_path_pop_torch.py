"""Hostile: in forward, removes the worker's import blocker from sys.meta_path (sys.meta_path.pop(0), and any other
finder named ForbiddenImports), then imports torch and lets it compute the (correct) answer."""

import sys

import numpy as np


def _unblock():
    if sys.meta_path:
        sys.meta_path.pop(0)
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ForbiddenImports"]


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        _unblock()
        import torch

        return torch.relu(torch.from_numpy(np.ascontiguousarray(x))).numpy()

    def backward(self, dy):
        import torch

        return (torch.from_numpy(np.ascontiguousarray(dy)) * torch.from_numpy(self.x > 0)).numpy()
