"""Hostile (issue 20, attack 7): in its first forward the layer opens /proc/<ppid>/fd/1 and /proc/<ppid>/fd/2 (the
checker's stdout and stderr) and writes a line of garbage to each, each at the start of a line:
"HOSTILE-STDOUT-GARBAGE {not json" and "HOSTILE-STDERR-GARBAGE". With ``--json -`` the checker's stdout is no
longer one JSON document. Backward is WRONG (sign).

A fixed harness: the checker is invisible from the worker's PID namespace, so nothing reaches the checker's own
stdout or stderr (whatever the worker writes to its own descriptors is captured and shown under the layer); the
JSON stays parseable and the layer fails on its backward.
"""

import os

import numpy as np

_done = False


def _inject() -> None:
    for fd, text in ((1, "\nHOSTILE-STDOUT-GARBAGE {not json\n"), (2, "\nHOSTILE-STDERR-GARBAGE\n")):
        try:
            with open(f"/proc/{os.getppid()}/fd/{fd}", "w") as f:
                f.write(text)
        except OSError:
            pass


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        global _done
        if not _done:
            _done = True
            _inject()
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
