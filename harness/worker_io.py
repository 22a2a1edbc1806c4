"""The checker's side of the pipes to a worker: messages (harness/wire.py) written and read against a deadline,
and the worker's printed output drained by a thread into a capped capture.

Nothing here blocks past its deadline: a worker that stops reading its requests, or never answers, is a timeout,
not a hang of the checker.
"""

from __future__ import annotations

import fcntl
import os
import select
import threading
import time

from lenet_parity.harness.wire import IOV_MAX, PipeClosed, written

_POLL = 0.2  # seconds between looks at the process's life and memory while waiting
PIPE_SIZE = 1 << 20  # bytes a pipe to the worker holds (Linux's default limit for a user); 64 KiB by default


class PipeTimeout(Exception):
    """The deadline passed before the message was written or read."""


def widen(fd: int) -> None:
    """Let the pipe of ``fd`` hold ``PIPE_SIZE`` bytes (Linux): a batch's activations then cross in a few
    writes instead of one per 64 KiB, each waking the other process. Left as it is where that is refused."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (AttributeError, OSError):
        pass


def write_all(fd: int, views: list, deadline: float, alive) -> None:
    """Every buffer of ``views`` (wire.pack's) into the non-blocking ``fd`` by the deadline; ``alive()`` is asked
    while the pipe is full. Written at once while the pipe has room (the common case: one system call)."""
    while views:
        try:
            views = written(views, os.writev(fd, views[:IOV_MAX]))
            continue
        except BlockingIOError:
            pass
        except (BrokenPipeError, ConnectionResetError):
            raise PipeClosed() from None
        while not select.select([], [fd], [], min(_POLL, max(0.0, deadline - time.monotonic())))[1]:
            if not alive():
                raise PipeClosed()
            if time.monotonic() >= deadline:
                raise PipeTimeout()


def readable(fd: int, deadline: float, watch) -> None:
    """Return once ``fd`` has bytes to read (or its end); PipeTimeout at the deadline; ``watch()`` runs between
    waits (it raises to stop)."""
    while not select.select([fd], [], [], min(_POLL, max(0.0, deadline - time.monotonic())))[0]:
        watch()
        if time.monotonic() >= deadline:
            raise PipeTimeout()


class OutputCapture:
    """What a layer printed (stdout and stderr, every process of one factory): the first ``keep`` bytes and the
    last ``keep`` bytes kept, the total counted. A thread drains the pipe, so a flood costs only its reading."""

    def __init__(self, keep: int = 4096):
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self._lock = threading.Lock()

    def drain(self, fd: int) -> threading.Thread:
        """Read ``fd`` until end of file in a daemon thread (the fd is closed at the end)."""
        thread = threading.Thread(target=self._drain, args=(fd,), daemon=True, name="worker-output")
        thread.start()
        return thread

    def _drain(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, 1 << 16):
                self._add(chunk)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _add(self, chunk: bytes) -> None:
        with self._lock:
            self.total += len(chunk)
            room = self.keep - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            self.tail = (self.tail + chunk)[-self.keep:]

    def text(self) -> str:
        """Everything kept, with a line saying how much was left out in the middle."""
        with self._lock:
            head, tail, total = bytes(self.head), bytes(self.tail), self.total
        left_out = total - len(head) - len(tail)
        middle = f"\n[... {left_out:,} bytes not kept ...]\n" if left_out > 0 else ""
        return (head.decode(errors="replace") + middle + tail.decode(errors="replace")).strip("\n")

    def last_line(self) -> str:
        with self._lock:
            tail = bytes(self.tail or self.head)
        lines = [line.strip() for line in tail.decode(errors="replace").splitlines() if line.strip()]
        return lines[-1][:200] if lines else ""


def tree_resident_bytes(pid: int) -> int:
    """Resident memory of the process and all its descendants (Linux /proc; 0 where it cannot be read): the
    worker under bubblewrap is the grandchild of the process the checker started."""
    total, todo, seen = 0, [pid], set()
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * page
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo += [int(child) for child in handle.read().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total
