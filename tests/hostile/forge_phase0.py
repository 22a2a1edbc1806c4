"""Hostile (issue 20, attack 4): the seal is a plain digest, so it can be forged. At import the layer reads the
installed Phase 0 (phase0/_reference.json, found with importlib.util.find_spec("lenet_parity.phase0")), rewrites
every ReLU record so that its own wrong backward (dx = dy, no mask) is the expected answer, re-seals the document
with lenet_parity.golden.content_sha256 (field ``content_sha256``) and writes it back atomically. A ``grade`` that
reads Phase 0 after the import then passes this student and fails the next correct one, and the forgery stays on
disk for every later run; two ``check`` runs at once share the file. The forged document's first key is a note
holding HOSTILE-GARBAGE, so tests/test_hostile.py recognises it and puts the file back.

A fixed harness: Phase 0 is read and verified before any user code runs (and its digest is recorded in the code, so
a re-sealed edit is refused as "not the file this lenet-parity shipped"), and the worker's file system is read-only:
the write fails (EROFS), forward raises that OSError ("Read-only file system"), the file stays byte-identical.
"""

import importlib.util
import json
import os

import numpy as np

NOTE = "HOSTILE-GARBAGE: forged by tests/hostile/forge_phase0.py (ReLU dx = dy, re-sealed)"


def _attack():
    try:
        from lenet_parity.golden import SEAL, content_sha256, dumps

        folder = importlib.util.find_spec("lenet_parity.phase0").submodule_search_locations[0]
        path = os.path.join(folder, "_reference.json")
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
        forged = {"hostile_note": NOTE, **{k: v for k, v in document.items() if k != SEAL}}
        for model in forged["models"].values():
            for key, capture in model.items():
                if isinstance(capture, dict) and "layers" in capture:
                    for record in capture["layers"]:
                        if record.get("kind") == "relu":
                            record["dx"] = dict(record["dy"])  # the wrong backward's answer, now "expected"
        forged[SEAL] = content_sha256(json.loads(dumps(forged)))
        scratch = os.path.join(folder, f"._reference.json.hostile-{os.getpid()}")
        with open(scratch, "w", encoding="utf-8") as f:
            f.write(dumps(forged))
        os.replace(scratch, path)
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
            raise OSError(_REFUSED.errno, f"forging phase0/_reference.json refused: {_REFUSED.strerror}")
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return np.array(dy, copy=True)  # wrong: no mask
