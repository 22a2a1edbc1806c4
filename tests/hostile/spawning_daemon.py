"""Hostile (issue 20, attack 3): the spawn guard is a Python global of the worker. At import the layer empties
``__main__._SPAWNING`` (the audit events the hook refuses), then starts a detached daemon (subprocess in a new
session, so outside the worker's process group that the checker kills). The daemon waits for the worker to end,
sleeps 8 s more and writes a marker file: /tmp/lenet_parity_hostile_daemon_<$LENET_PARITY_HOSTILE_RUN, else
"marker">; a real one would rewrite gradebook.csv after ``grade`` finished. The layer is WRONG (backward sign).

A fixed harness: the worker runs in its own PID namespace that dies with it (bubblewrap --unshare-pid
--die-with-parent), so the daemon ends with the run (or could not start): no process whose command line holds
"lenet_parity_hostile_daemon" is left, no marker file appears; the layer fails on its wrong backward.
"""

import os
import subprocess
import sys

import numpy as np

MARKER = f"/tmp/lenet_parity_hostile_daemon_{os.environ.get('LENET_PARITY_HOSTILE_RUN') or 'marker'}"
_DAEMON = """
import os, sys, time
worker, marker = int(sys.argv[2]), sys.argv[3]
deadline = time.monotonic() + 300
while os.path.exists(f"/proc/{worker}") and time.monotonic() < deadline:  # until the check is over
    time.sleep(0.2)
time.sleep(8)
with open(marker, "w") as f:
    f.write(f"written by the daemon of tests/hostile/spawning_daemon.py, pid {os.getpid()}, at {time.time()}\\n")
"""

_main = sys.modules.get("__main__")
if _main is not None and hasattr(_main, "_SPAWNING"):
    _main._SPAWNING = ()
try:
    subprocess.Popen([sys.executable, "-c", _DAEMON, "lenet_parity_hostile_daemon", str(os.getpid()), MARKER],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
except (OSError, PermissionError):
    pass  # no daemon: the wrong backward still fails


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
