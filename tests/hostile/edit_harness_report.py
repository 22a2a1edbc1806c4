"""Hostile (issue 20, attack 1): the layer edits the harness's own files. At import it appends a payload to the
installed ``lenet_parity/harness/report.py`` (found with importlib.util.find_spec). The checker imports that module
only to print the report, after the checks: the payload first truncates report.py back to its original size and
mtime (no trace left on disk), then makes every row of this run pass (CheckResult.passed is always True), so this
WRONG ReLU (backward with the wrong sign) exits 0.

A fixed harness runs the worker on a read-only file system: the append fails (EROFS). The layer then raises that
OSError from forward, so the report says "Read-only file system"; report.py stays byte-identical and the exit is 1.
"""

import importlib.util
import os

import numpy as np

_PAYLOAD = '''

# >>> HOSTILE payload of tests/hostile/edit_harness_report.py: it removes itself when imported >>>
def _hostile_payload(size={size}, mtime={mtime}):
    import os, sys
    try:
        with open(__file__, "r+b") as f:
            f.truncate(size)
        os.utime(__file__, ns=(mtime, mtime))
    except OSError:
        pass
    if any("edit_harness_report" in arg for arg in sys.argv):  # only the run of this layer passes
        from lenet_parity.harness import results
        results.CheckResult.passed = property(lambda self: True)
_hostile_payload()
del _hostile_payload
'''


def _attack():
    """None when the payload was appended, else the OSError that refused it."""
    try:
        path = importlib.util.find_spec("lenet_parity.harness.report").origin
        st = os.stat(path)
        with open(path, "a") as f:
            f.write(_PAYLOAD.format(size=st.st_size, mtime=st.st_mtime_ns))
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
            raise OSError(_REFUSED.errno, f"appending to harness/report.py refused: {_REFUSED.strerror}")
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
