"""Hostile (issue 20, attack 1): the layer plants a .pth file in the venv's site-packages at import. Python runs an
``import`` line of a .pth file at every start of that interpreter, so a submission could persist into every later
check, grade or pytest run of the teacher (here the line is harmless: it only sets an environment variable). The
layer is WRONG (backward with the wrong sign).

A fixed harness runs the worker on a read-only file system: writing the .pth fails (EROFS); the layer then raises
that OSError from forward, so the report says "Read-only file system" and site-packages is left as it was.
Cleanup after a run on an unfixed harness: rm <site-packages>/lenet_parity_hostile_persist.pth
"""

import os
import sysconfig

import numpy as np

PTH_NAME = "lenet_parity_hostile_persist.pth"
_LINE = "import os; os.environ.setdefault('LENET_PARITY_HOSTILE_PTH', 'loaded by tests/hostile/pth_persist.py')\n"


def _attack():
    try:
        path = os.path.join(sysconfig.get_paths()["purelib"], PTH_NAME)
        with open(path, "w") as f:
            f.write(_LINE)
    except OSError as exc:
        return exc
    return None


_REFUSED = _attack()


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        if _REFUSED is not None:
            raise OSError(_REFUSED.errno, f"writing {PTH_NAME} into site-packages refused: {_REFUSED.strerror}")
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
