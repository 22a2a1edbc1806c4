"""Hostile: forward sends SIGKILL to its parent process (the checker that started the worker)."""

import os
import signal

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        os.kill(os.getppid(), signal.SIGKILL)
        return np.maximum(x, 0)

    def backward(self, dy):
        return dy * (self.x > 0)
