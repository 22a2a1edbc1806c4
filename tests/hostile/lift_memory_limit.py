"""Hostile: at import, raises its own RLIMIT_AS to unlimited (possible when the worker runs as root, i.e. with
CAP_SYS_RESOURCE), then in forward reserves 3 GiB of address space (np.empty: reserved, never touched, so harmless
to the machine) and returns the right answer. Run with --memory-limit 1: the layer exceeded its limit and must fail."""

import resource

import numpy as np

try:
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
except (ValueError, OSError):
    pass


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        self.reserve = np.empty(3 << 30, dtype=np.uint8)  # 3 GiB of address space, over a 1 GiB limit
        return np.maximum(x, 0)

    def backward(self, dy):
        return dy * (self.x > 0)
