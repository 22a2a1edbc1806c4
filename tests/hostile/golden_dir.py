"""Hostile (issue 20, attack 6): at import the layer puts a directory in the place of the installed Phase 0
(phase0/_reference.json, found with importlib.util.find_spec("lenet_parity.phase0")); the original file is moved
INTO that directory (phase0/_reference.json/original_reference.json), so nothing is really lost. Today the
checker's golden watch then fails to restore the file (IsADirectoryError, a traceback) and every later run finds no
Phase 0. The layer is WRONG (backward sign).
To repair by hand: cd phase0 && mv _reference.json/original_reference.json ._r && rmdir _reference.json &&
mv ._r _reference.json

A fixed harness: the worker's file system is read-only, the rename fails (EROFS), forward raises that OSError
("Read-only file system"); Phase 0 stays a regular file, byte-identical.
"""

import importlib.util
import os

import numpy as np


def _attack():
    try:
        folder = importlib.util.find_spec("lenet_parity.phase0").submodule_search_locations[0]
        path = os.path.join(folder, "_reference.json")
        moving = os.path.join(folder, f"._reference.json.hostile-{os.getpid()}")
        os.rename(path, moving)
        try:
            os.mkdir(path)
        except OSError:
            os.rename(moving, path)
            raise
        os.rename(moving, os.path.join(path, "original_reference.json"))
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
            raise OSError(_REFUSED.errno, f"replacing phase0/_reference.json by a directory refused: "
                                          f"{_REFUSED.strerror}")
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
