"""Hostile (issue 20, attack 10): in its first forward the layer prints 120 MB to stdout (120,000 lines of 1 kB,
each starting "hostile flood line N"), without exiting; backward is WRONG (sign). Today the output goes to an
unlinked temp file: the run is slower and the report shows none of it.

A fixed harness captures the worker's output through a pipe with a cap (first and last parts kept, the total
counted) and shows it under the layer: the report holds "hostile flood line ..." and the run costs no more than
reading 120 MB.
"""

import sys

import numpy as np

_done = False


def _flood() -> None:
    pad = "x" * 1000
    write = sys.stdout.write
    for n in range(120_000):
        write(f"hostile flood line {n:06d} {pad}\n")
    sys.stdout.flush()


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        global _done
        if not _done:
            _done = True
            _flood()
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
