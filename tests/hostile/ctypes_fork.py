"""Hostile (issue 20, attack 3): fork() called through ctypes raises no audit event, so the worker's spawn guard
never sees it. At import the child calls setsid() (out of the worker's process group and session, which the checker
kills), closes its inherited descriptors, waits for the worker to end, sleeps 8 s and writes a marker file:
/tmp/lenet_parity_hostile_ctypes_fork_<$LENET_PARITY_HOSTILE_RUN, else "marker">. Its command line is the worker's
(it holds "ctypes_fork.py"). The layer is WRONG (backward sign).

A fixed harness: the worker's PID namespace dies with it, so the forked child ends with the run: no process left,
no marker file; the layer fails on its wrong backward.
"""

import ctypes
import os
import time

import numpy as np

MARKER = f"/tmp/lenet_parity_hostile_ctypes_fork_{os.environ.get('LENET_PARITY_HOSTILE_RUN') or 'marker'}"


def _child(worker: int) -> None:
    libc.setsid()
    os.closerange(3, 4096)
    deadline = time.monotonic() + 300
    while os.path.exists(f"/proc/{worker}") and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(8)
    with open(MARKER, "w") as f:
        f.write(f"written by the ctypes fork() child of tests/hostile/ctypes_fork.py, pid {os.getpid()}\n")


try:
    libc = ctypes.CDLL(None, use_errno=True)
    _worker = os.getpid()
    if libc.fork() == 0:
        try:
            _child(_worker)
        finally:
            os._exit(0)
except (OSError, AttributeError):
    pass


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
