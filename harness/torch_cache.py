"""Torch's half of the checks, computed once per process and shared by every submission graded there.

The sweep's expected values, the hybrid mode's pure-torch pass and the train mode's pure-torch run depend on the
case (seed, dtype, golden files, options), never on the student's code; a grading process grades many
submissions in turn (lenet_parity/executors.py), so each is computed once there. ``shared(kind, key, compute)``
runs ``compute`` once per key, keeps a copy detached from torch's autograd graph, and hands out a copy of that
every time: no caller, nor a student's in-place write that the checker mirrors, can change what the next gets. A key holds everything its value is computed
from, as plain values (its ``repr`` is the key) and ``digest``s of arrays; torch's version and thread count are
added here. A golden file enters a key by the seal of the document pinned for the run (``golden_seal``); a file
that is not pinned gives no key, and then nothing is cached. Nothing is kept on disk: a value read back from a
file would be one more golden file to seal, and a process computes each one once anyway.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
from collections import Counter, OrderedDict
from typing import Any, Callable, TypeVar

import numpy as np
import torch

from lenet_parity.golden import SEAL
from lenet_parity.golden_pins import in_memory

T = TypeVar("T")

MAX_ENTRIES = 1024  # values kept; a class's run needs a few hundred (the sweep's cases), the oldest goes first
enabled = True  # the tests switch it off to compare results with and without
computed: Counter[str] = Counter()  # values computed, by kind: a second identical run adds none
_values: OrderedDict[str, Any] = OrderedDict()


def shared(kind: str, key: tuple | None, compute: Callable[[], T]) -> T:
    """``compute()``'s value, computed once per ``key`` in this process, as a copy (``copied``); ``key`` None: not
    cached. A ``compute`` that raises caches nothing."""
    if not enabled or key is None:
        computed[kind] += 1
        return compute()
    full = repr((kind, torch.__version__, torch.get_num_threads(), key))
    if full in _values:
        _values.move_to_end(full)
    else:
        value = copied(compute())
        computed[kind] += 1
        _values[full] = value
        if len(_values) > MAX_ENTRIES:
            _values.popitem(last=False)
    return copied(_values[full])


def copied(value: Any) -> Any:
    """A copy sharing no memory with ``value``: a tensor detached from its graph (a leaf's gradient comes along in
    ``.grad``), arrays, lists, tuples, dicts and dataclasses walked (faster than deepcopy), the rest deep-copied."""
    if isinstance(value, torch.Tensor):
        kept = value.detach().clone()
        if value.is_leaf and value.grad is not None:
            kept.grad = value.grad.detach().clone()
        return kept
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (list, tuple):
        return type(value)(copied(item) for item in value)
    if type(value) is dict:
        return {k: copied(item) for k, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kept = copy.copy(value)
        for f in dataclasses.fields(value):
            object.__setattr__(kept, f.name, copied(getattr(value, f.name)))  # frozen ones too
        return kept
    return copy.deepcopy(value)


def clear() -> None:
    """Forget every value (the counts too)."""
    _values.clear()
    computed.clear()


def digest(*values: Any) -> str:
    """The SHA-256 of arrays, tensors and plain values (lists and dicts of them too), with their dtypes and shapes:
    a key's stand-in for data whose ``repr`` would be abbreviated."""
    h = hashlib.sha256()

    def add(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if isinstance(value, np.ndarray):
            h.update(f"{value.dtype}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, (list, tuple)):
            h.update(f"{type(value).__name__}{len(value)}".encode())
            for item in value:
                add(item)
        elif isinstance(value, dict):
            h.update(f"dict{len(value)}".encode())
            for k, item in value.items():
                add(k)
                add(item)
        else:
            h.update(repr(value).encode())
        h.update(b";")

    for value in values:
        add(value)
    return h.hexdigest()


def golden_seal(path: str | os.PathLike) -> str | None:
    """The seal of the golden document pinned for ``path`` (lenet_parity/golden_pins.py): the one every read of it
    returns, and verifies, until the pinned block ends; None when it is not pinned."""
    document = in_memory(path)
    return None if document is None else document.get(SEAL)
