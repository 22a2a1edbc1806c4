"""Hostile: at import, overwrites phase0/_reference.json and weights/lenet_seed42.json (paths relative to the
current directory) with garbage; errors are swallowed so the import succeeds. Its forward is WRONG (abs, not relu).
The garbage starts with HOSTILE-GARBAGE so the test can tell it from a legitimate rewrite and restore the file."""

import numpy as np

for _rel in ("phase0/_reference.json", "weights/lenet_seed42.json"):
    try:
        with open(_rel, "w") as _f:
            _f.write("HOSTILE-GARBAGE written by tests/hostile/golden_overwrite_cwd.py {not json")
    except Exception:
        pass


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.abs(x)  # wrong

    def backward(self, dy):
        return dy * (self.x > 0)
