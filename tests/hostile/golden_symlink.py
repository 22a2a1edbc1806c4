"""Hostile (issue 20, attack 6): at import the layer copies the installed Phase 0 (phase0/_reference.json) to
/tmp/lenet_parity_hostile_golden_<$LENET_PARITY_HOSTILE_RUN, else "copy">.json, byte for byte, and puts a symlink
to that copy in the file's place (atomically). The bytes are the same, so today's golden watch never notices; the
file the harness trusts now lives where anyone can edit it. The layer is WRONG (backward sign).
To repair by hand: cp --remove-destination "$(readlink -f phase0/_reference.json)" phase0/_reference.json

A fixed harness: the worker's file system is read-only, the symlink cannot be made (EROFS), forward raises that
OSError ("Read-only file system"); Phase 0 stays a regular file. (A symlink found in a golden file's place at the
start of a run is refused in one line, exit 2.)
"""

import importlib.util
import os
import shutil

import numpy as np

COPY = f"/tmp/lenet_parity_hostile_golden_{os.environ.get('LENET_PARITY_HOSTILE_RUN') or 'copy'}.json"


def _attack():
    try:
        folder = importlib.util.find_spec("lenet_parity.phase0").submodule_search_locations[0]
        path = os.path.join(folder, "_reference.json")
        shutil.copyfile(path, COPY)
        link = os.path.join(folder, f"._reference.json.hostile-{os.getpid()}")
        os.symlink(COPY, link)
        os.replace(link, path)
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
            raise OSError(_REFUSED.errno, f"replacing phase0/_reference.json by a symlink refused: "
                                          f"{_REFUSED.strerror}")
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
