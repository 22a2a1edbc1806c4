"""Hostile: forward starts a child (sleep 1001) in a NEW session (start_new_session=True, so outside the worker's
process group) and then hangs; the child must not outlive the run."""

import subprocess
import time

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        self.child = subprocess.Popen(["sleep", "1001"], start_new_session=True)
        while True:
            time.sleep(1)

    def backward(self, dy):
        return dy * (self.x > 0)
