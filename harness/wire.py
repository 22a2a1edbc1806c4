"""The messages between the checker and its worker, in both directions: a pickle (protocol 5) whose large arrays
travel beside it as raw buffers, so a megabyte of activations is copied into the pipe and out of it, never
through the pickler's own buffer (that copy, and the page faults of its growing, were most of a forward's cost
in the worker: 12 ms against 5 ms in one process, for a batch-32 conv).

A message is ``PREFIX`` (the pickle's length, how many buffers), each buffer's length (``LENGTH``), the pickle,
then the buffers. The reading side (harness/worker_io.py in the checker, harness/worker_main.py in the worker)
supplies how to fill a buffer; the limits here hold against a forged prefix.
"""

from __future__ import annotations

import os
import pickle
import struct
from typing import Any, Callable

PREFIX = struct.Struct("!QI")  # the pickle's length, the number of raw buffers after it
LENGTH = struct.Struct("!Q")
MAX_BUFFERS = 1 << 16
IOV_MAX = 1024  # buffers per os.writev call (Linux's limit)
CHUNK = 1 << 12  # bytes an Inbox asks for at once


class PipeClosed(Exception):
    """The other end is gone (end of file, or a broken pipe)."""


class Oversized(Exception):
    """The prefix announces more than the reader accepts: ``size`` bytes (a forged or runaway message)."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


def pack(value: Any) -> list:
    """``value`` as the buffers to write, in order: prefix and lengths, the pickle, then every array's memory
    as it is (C- or Fortran-contiguous NumPy arrays, and ``pickle.PickleBuffer`` objects, travel out of band)."""
    raw: list[pickle.PickleBuffer] = []
    data = pickle.dumps(value, protocol=5, buffer_callback=raw.append)
    views = [buffer.raw() for buffer in raw]
    head = PREFIX.pack(len(data), len(views)) + b"".join(LENGTH.pack(view.nbytes) for view in views)
    return [head, data, *views]


def read_message(fill: Callable[[memoryview], None], limit: int | None = None,
                 pickle_limit: int | None = None) -> tuple[bytes, list[bytearray]]:
    """One message, read through ``fill`` (which fills a view exactly, or raises): its pickle and its buffers,
    each buffer a bytearray of its own (so an array over it is writable and aligned). ``Oversized`` when it
    announces more than ``limit`` bytes in all, a pickle over ``pickle_limit`` bytes or over ``MAX_BUFFERS``
    buffers, before anything of that size is allocated."""
    size, count = PREFIX.unpack(_filled(fill, PREFIX.size))
    if count > MAX_BUFFERS or pickle_limit is not None and size > pickle_limit:
        raise Oversized(size + count * LENGTH.size)
    lengths = [n for (n,) in LENGTH.iter_unpack(_filled(fill, count * LENGTH.size))] if count else []
    if limit is not None and size + sum(lengths) > limit:
        raise Oversized(size + sum(lengths))
    data = _filled(fill, size)
    return bytes(data), [_filled(fill, n) for n in lengths]


def _filled(fill: Callable[[memoryview], None], n: int) -> bytearray:
    buffer = bytearray(n)
    if n:
        fill(memoryview(buffer))
    return buffer


class Inbox:
    """The bytes of one pipe, read in gulps of up to ``CHUNK``: a small message (most are) then costs one read
    for its prefix, lengths and pickle together, not one each. What a gulp holds past the message waits here for
    the next. ``wait()`` is called before each read (the checker's deadline and watch; nothing in the worker)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.left = memoryview(b"")

    def fill(self, view: memoryview, wait: Callable[[], None] = lambda: None) -> None:
        """``view`` filled from what is left and then the pipe; PipeClosed at its end."""
        got = min(self.left.nbytes, view.nbytes)
        view[:got] = self.left[:got]
        self.left = self.left[got:]
        while got < view.nbytes:
            wait()
            need = view.nbytes - got
            try:
                if need >= CHUNK:  # a large buffer: straight into it
                    n = os.readv(self.fd, [view[got:]])
                else:
                    chunk = memoryview(os.read(self.fd, CHUNK))
                    n = min(chunk.nbytes, need)
                    view[got:got + n] = chunk[:n]
                    self.left = chunk[n:]
            except BlockingIOError:  # a non-blocking pipe that was readable no longer is (the other end took
                continue  # the bytes back): wait again, by wait()'s deadline
            if not n:
                raise PipeClosed()
            got += n


def written(views: list, n: int) -> list:
    """What is left of ``views`` (a list of buffers) after the first ``n`` bytes went out."""
    views = list(views)
    while views and n >= memoryview(views[0]).nbytes:
        n -= memoryview(views[0]).nbytes
        views.pop(0)
    if views and n:
        views[0] = memoryview(views[0]).cast("B")[n:]
    return views
