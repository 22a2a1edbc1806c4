"""Hostile: __init__ starts a non-daemon thread that sleeps forever (so the interpreter never exits by itself);
backward is WRONG."""

import threading
import time

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}
        threading.Thread(target=lambda: time.sleep(1e6)).start()

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
