"""Hostile: forward starts a thread that calls os._exit(0) 0.2 s later (the process dies between calls); backward is WRONG."""

import os
import threading
import time

import numpy as np


def _later():
    time.sleep(0.2)
    os._exit(0)


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        threading.Thread(target=_later, daemon=True).start()
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
