"""Hostile (issue 20, attack 5): the worker's audit hook lets a layer signal only itself, comparing with
os.getpid() at the time of the event. Forward rebinds ``os.getpid`` to return the parent's pid, so the hook takes
the checker for "yourself", then sends it SIGSTOP with os.kill (and puts os.getpid back). The frozen checker cannot
enforce --timeout: the run hangs. Forward is WRONG (abs).

A fixed harness: the worker runs in its own PID namespace, where the checker is invisible (getppid() is 0: kill(0)
stops the worker's own group; or the namespace's init, which ignores it); the run ends within --timeout with a
failure: "no answer after 5 s", "may not signal other processes" or the wrong forward's mismatch.
"""

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
        parent, real_getpid = os.getppid(), os.getpid
        os.getpid = lambda: parent
        try:
            os.kill(parent, signal.SIGSTOP)
        finally:
            os.getpid = real_getpid
        return np.abs(x)  # wrong

    def backward(self, dy):
        return dy * (self.x > 0)
