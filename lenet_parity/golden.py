"""Versioned, self-describing, sealed JSON golden files (weights and Phase 0), torch-free and numpy-free.

Sealed: ``content_sha256`` is the sha256 of the document's canonical JSON (sorted keys, no spaces, everything
but the seal), so re-indenting the file is harmless and any edited number is refused on load.

A tensor is stored as ``{"shape": [...], "dtype": "float32", "values": [...]}`` (flat, row-major)
or, for the large Phase 0 file, ``{"shape", "dtype", "base64": "<little-endian bytes>"}``. Both are
bit-exact: float32 values are written as the shortest decimal that reads back to the same float32,
float64 values as Python's shortest round-trip repr.
"""

from __future__ import annotations

import array
import base64
import hashlib
import json
import math
import os
import struct
import sys
from pathlib import Path
from typing import Any

from lenet_parity.atomic import atomic_write_text
from lenet_parity.errors import UserInputError
from lenet_parity.golden_pins import (in_memory, read_bytes, record_shipped, remember_verified, shipped_seal,
                                      verified_before)

_TYPECODES = {"float32": "f", "float64": "d", "int64": "q", "uint8": "B"}


def _shortest_float32(value: float) -> str:
    """The shortest decimal string that parses back to exactly this float32."""
    if not math.isfinite(value):
        raise ValueError(f"cannot store non-finite value {value!r} in a golden file")
    packed = struct.pack("<f", value)
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.pack("<f", float(text)) == packed:
            return "-0.0" if text == "-0" else text  # JSON's -0 would read back as the integer 0
    return repr(value)


def encode_tensor(values, shape, dtype: str, *, encoding: str = "values") -> dict[str, Any]:
    """Encode a flat sequence of numbers (row-major) of the given shape and dtype."""
    flat = list(values)
    expected = math.prod(shape)
    if len(flat) != expected:
        raise ValueError(f"{len(flat)} values for shape {list(shape)} ({expected} expected)")
    if dtype not in _TYPECODES:
        raise ValueError(f"unsupported dtype {dtype!r}")
    record: dict[str, Any] = {"shape": [int(s) for s in shape], "dtype": dtype}
    if encoding == "base64":
        packed = array.array(_TYPECODES[dtype], flat)
        if sys.byteorder != "little":
            packed.byteswap()
        record["base64"] = base64.b64encode(packed.tobytes()).decode("ascii")
    elif dtype == "float32":
        record["values"] = _RawNumbers(_shortest_float32(float(v)) for v in flat)
    elif dtype == "float64":
        for v in flat:
            if not math.isfinite(v):
                raise ValueError(f"cannot store non-finite value {v!r} in a golden file")
        record["values"] = [float(v) for v in flat]
    else:
        record["values"] = [int(v) for v in flat]
    return record


def decode_tensor(record: dict[str, Any], *, where: str = "tensor") -> tuple[list, list[int], str]:
    """Return ``(flat_values, shape, dtype)`` of an encoded tensor; raises ValueError when malformed."""
    try:
        shape = [int(s) for s in record["shape"]]
        dtype = record["dtype"]
        code = _TYPECODES[dtype]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: malformed tensor record ({exc})") from None
    if "base64" in record:
        packed = array.array(code)
        packed.frombytes(base64.b64decode(record["base64"]))
        if sys.byteorder != "little":
            packed.byteswap()
        flat = packed.tolist()
    elif "values" in record:
        flat = record["values"]
        if dtype == "float32":  # round every value to float32, as it was written
            flat = array.array("f", flat).tolist()
    else:
        raise ValueError(f"{where}: tensor record has neither 'values' nor 'base64'")
    if len(flat) != math.prod(shape):
        raise ValueError(f"{where}: {len(flat)} values for shape {shape}")
    return flat, shape, dtype


class _RawNumbers(list):
    """Pre-formatted number strings that ``dumps`` writes verbatim (json cannot keep float32 short)."""

    def __init__(self, items):
        super().__init__(items)


def dumps(document: Any) -> str:
    """JSON text with one tensor's values on one line; deterministic (keys in insertion order)."""
    return _dump(document, 0) + "\n"


def _dump(obj: Any, depth: int) -> str:
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(obj, _RawNumbers):
        return "[" + ",".join(obj) + "]"
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_dump(v, depth + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if all(isinstance(v, (int, float, str, bool)) or v is None for v in obj):
            return json.dumps(list(obj), separators=(",", ":"), allow_nan=False)
        return "[\n" + ",\n".join(inner + _dump(v, depth + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, allow_nan=False)


SEAL = "content_sha256"


def content_sha256(document: dict[str, Any]) -> str:
    """The sha256 of the document as JSON reads it back, in canonical form, without its seal."""
    body = {k: v for k, v in document.items() if k != SEAL}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()).hexdigest()


def write_document(path: str | os.PathLike, document: dict[str, Any]) -> None:
    """Write a golden document, sealed, atomically (temp file, then rename)."""
    unsealed = {k: v for k, v in document.items() if k != SEAL}
    sealed = {**unsealed, SEAL: content_sha256(json.loads(dumps(unsealed)))}  # the seal of what a reader sees
    atomic_write_text(path, dumps(sealed))
    record_shipped(path, sealed[SEAL])  # at a shipped file's place: the package's code records the new seal


def read_document(path: str | os.PathLike, *, kind: str, version: int, regenerate: str) -> dict[str, Any]:
    """Read and validate a golden document (from memory when a pinned block read it already); every problem is a
    one-line UserInputError.

    ``regenerate`` is the command that rebuilds the file (``make phase0``), named in every error.
    """
    path = Path(path)
    hint = f"run: {regenerate}"
    document = in_memory(path)
    if document is None:
        document = parse(path, read_bytes(path, hint), hint=hint)
    if document.get("kind") != kind:
        raise UserInputError(f"{path}: not a {kind} file (kind={document.get('kind')!r}); {hint}")
    found_version = document.get("format_version")
    if found_version != version:
        raise UserInputError(f"{path}: format_version {found_version!r}, this lenet-parity reads {version}; {hint}")
    if verified_before(path, document):
        return document
    verify(path, document, hint=hint)
    remember_verified(path, document)
    return document


def parse(path: Path, data: bytes, *, hint: str) -> dict[str, Any]:
    """A golden file's bytes as a JSON object."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path}: not valid JSON, truncated or corrupted ({exc.__class__.__name__}: line "
                             f"{getattr(exc, 'lineno', '?')}); {hint}") from None
    if not isinstance(document, dict):
        raise UserInputError(f"{path}: not a golden file (a JSON {type(document).__name__}); {hint}")
    return document


def verify(path: Path, document: dict[str, Any], *, hint: str) -> dict[str, Any]:
    """The document, when its seal is right and, at a shipped file's place, it is the file shipped."""
    if document.get(SEAL) != content_sha256(document):
        what = "has no content_sha256 seal" if SEAL not in document else "does not match its content_sha256 seal"
        raise UserInputError(f"{path}: {what} (edited or damaged since it was written); {hint}")
    expected = shipped_seal(path)
    if expected is not None and document[SEAL] != expected:
        raise UserInputError(f"{path}: not the file this lenet-parity shipped (its seal is not the one recorded in "
                             f"lenet_parity/golden_digests.py); reinstall lenet-parity, or {hint}")
    return document


def parse_and_verify(path: Path, data: bytes, *, hint: str) -> dict[str, Any]:
    return verify(path, parse(path, data, hint=hint), hint=hint)
