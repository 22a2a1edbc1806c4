"""Read, write and validate IDX files (LeCun's MNIST format), the files torchvision's MNIST reads.

Layout: magic = two zero bytes, a type code, the number of dims; then one big-endian uint32 per dim;
then the values, big-endian, row-major. A bad file raises UserInputError naming the file.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet_parity.atomic import atomic_open
from lenet_parity.errors import UserInputError

# IDX type code -> big-endian numpy dtype (the same table as torchvision's SN3_PASCALVINCENT_TYPEMAP)
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}


@dataclass(frozen=True)
class IdxHeader:
    dtype: np.dtype  # big-endian, as stored
    shape: tuple[int, ...]
    offset: int  # bytes before the first value: 4 + 4 * ndim

    @property
    def nbytes(self) -> int:
        """The exact size a valid file with this header has."""
        return self.offset + math.prod(self.shape) * self.dtype.itemsize


def _fail(path: Path, problem: str, hint: str) -> UserInputError:
    return UserInputError(f"{path}: {problem}" + (f"; {hint}" if hint else ""))


def read_idx_header(path: str | os.PathLike, *, hint: str = "") -> IdxHeader:
    """Parse the magic number and dims; ``hint`` (e.g. "run: make data") ends every error message."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "file not found", hint)
    with open(path, "rb") as handle:
        magic = handle.read(4)
        if len(magic) < 4:
            raise _fail(path, f"truncated IDX file ({len(magic)} bytes, no complete magic number)", hint)
        zero, code, ndim = struct.unpack(">HBB", magic)
        if zero != 0 or code not in IDX_DTYPES or ndim == 0:
            # gzip starts with 1f 8b: the most common wrong file here is a still-compressed download
            gz = " (it looks gzip-compressed: gunzip it)" if magic[:2] == b"\x1f\x8b" else ""
            raise _fail(path, f"not an IDX file: bad magic number 0x{magic.hex()}{gz}", hint)
        dims = handle.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise _fail(path, f"truncated IDX file (header promises {ndim} dims, file ends first)", hint)
    shape = struct.unpack(f">{ndim}I", dims)
    return IdxHeader(dtype=IDX_DTYPES[code], shape=tuple(shape), offset=4 + 4 * ndim)


def validate_idx(
    path: str | os.PathLike,
    *,
    shape: tuple[int, ...] | None = None,
    dtype: str | np.dtype | None = "uint8",
    hint: str = "",
) -> IdxHeader:
    """Check the header, the expected shape and dtype, and that the file size matches the header."""
    path = Path(path)
    header = read_idx_header(path, hint=hint)
    if dtype is not None and header.dtype.newbyteorder("=") != np.dtype(dtype):
        raise _fail(path, f"IDX values are {header.dtype.newbyteorder('=')}, expected {np.dtype(dtype)}", hint)
    if shape is not None and header.shape != tuple(shape):
        raise _fail(path, f"IDX shape is {header.shape}, expected {tuple(shape)}", hint)
    size = path.stat().st_size
    if size != header.nbytes:
        kind = "truncated" if size < header.nbytes else "oversized"
        raise _fail(path, f"{kind} IDX file: {size} bytes, the header {header.shape} needs {header.nbytes}", hint)
    return header


def read_idx(path: str | os.PathLike, *, shape=None, dtype="uint8", hint: str = "") -> np.ndarray:
    """Validate, then return the values as a native-endian numpy array of the header's shape."""
    header = validate_idx(path, shape=shape, dtype=dtype, hint=hint)
    with open(path, "rb") as handle:
        handle.seek(header.offset)
        values = np.frombuffer(handle.read(), dtype=header.dtype)
    return values.reshape(header.shape).astype(header.dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an array as an IDX file, atomically (used to build test fixtures and fakes)."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES or array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"cannot write {array.dtype} array of shape {array.shape} as IDX")
    header = struct.pack(">HBB", 0, _CODES[native], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with atomic_open(path, "wb") as handle:
        handle.write(header)
        handle.write(np.ascontiguousarray(array, dtype=IDX_DTYPES[_CODES[native]]).tobytes())
