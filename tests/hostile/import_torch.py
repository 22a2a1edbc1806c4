"""Hostile: imports torch at module top level and lets torch compute the answer (frameworks are refused in the worker)."""

import numpy as np
import torch


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return torch.relu(torch.from_numpy(x)).numpy()

    def backward(self, dy):
        return dy * (self.x > 0)
