"""Hostile: forward starts a child process (sleep 1000) and then hangs; the child must not outlive the run."""

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
        self.child = subprocess.Popen(["sleep", "1000"])
        while True:
            time.sleep(1)

    def backward(self, dy):
        return dy * (self.x > 0)
