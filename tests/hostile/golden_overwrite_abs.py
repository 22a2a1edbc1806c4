"""Hostile: like golden_overwrite_cwd, but finds the golden files from its own location (absolute paths), so running
the worker in another directory does not protect them. Overwrites at import and again in forward; forward is WRONG.
The garbage starts with HOSTILE-GARBAGE so the test can tell it from a legitimate rewrite and restore the file."""

from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[2]
_GOLDEN = (_ROOT / "phase0" / "_reference.json", _ROOT / "weights" / "lenet_seed42.json")


def _vandalise():
    for path in _GOLDEN:
        try:
            with open(path, "w") as f:
                f.write("HOSTILE-GARBAGE written by tests/hostile/golden_overwrite_abs.py {not json")
        except Exception:
            pass


_vandalise()


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        _vandalise()
        return np.abs(x)  # wrong

    def backward(self, dy):
        return dy * (self.x > 0)
