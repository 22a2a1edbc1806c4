"""Hostile: ignores SIGTERM (set at import) and hangs in forward: only SIGKILL ends it."""

import signal
import time

import numpy as np

signal.signal(signal.SIGTERM, signal.SIG_IGN)


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        while True:
            time.sleep(1)

    def backward(self, dy):
        return dy * (self.x > 0)
