"""Hostile (issue 20, attack 5): forward sends SIGSTOP to its parent (the checker) through ctypes' libc kill(),
which raises no audit event, so the worker's "may not signal other processes" guard never sees it. The frozen
checker cannot enforce --timeout: the run hangs until something outside sends SIGCONT. Forward is WRONG (abs).

A fixed harness: the worker runs in its own PID namespace, where the checker is invisible (getppid() is 0, or the
namespace's init, which ignores the signal); at worst the worker stops itself and the timeout ends it. The run
ends within --timeout with a failure: "no answer after 5 s" or the wrong forward's mismatch.
"""

import ctypes
import os
import signal

import numpy as np

_libc = ctypes.CDLL(None, use_errno=True)


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        _libc.kill(os.getppid(), int(signal.SIGSTOP))
        return np.abs(x)  # wrong

    def backward(self, dy):
        return dy * (self.x > 0)
