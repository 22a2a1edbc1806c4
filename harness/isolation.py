"""User layers in a separate worker process: the process that decides the verdict never imports user code.

``IsolatedFactory`` starts one worker (harness/worker_main.py, a fresh interpreter) for a user's class and
builds ``RemoteLayer`` proxies through it: each attribute access (a method's or a dict's only the first time),
``params[key]`` and method call is one request over a pipe (harness/wire.py), so the checks run unchanged. Replies
are plain data (arrays as dtype, shape and their bytes beside the pickle), unpickled with no class allowed.
Whatever the worker does (raise, exit, os._exit, crash, hang, run out of memory, forge a reply) becomes an
exception here whose message says so; after a hang, a forged reply or a second death, the factory refuses further
layers ("not run: ...") so one bad layer costs about one timeout.
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import numpy as np

from lenet_parity.custom_layers.protocol import fits
from lenet_parity.errors import UserInputError
from lenet_parity.harness.sandbox import Sandbox, probe, worker_environment, wrap
from lenet_parity.harness.wire import Inbox, Oversized, PipeClosed, pack, read_message
from lenet_parity.harness.worker_io import (OutputCapture, PipeTimeout, readable, tree_resident_bytes, widen,
                                            write_all)
from lenet_parity.harness.worker_main import ALLOW_IMPORTS, FORBID_IMPORTS, ForbiddenImportError

DEFAULT_TIMEOUT = 60.0  # seconds per call into user code
DEFAULT_MEMORY_LIMIT = 4 << 30  # bytes of address space (RLIMIT_AS) for the worker
_GRACE = 0.5  # seconds between SIGTERM and SIGKILL
_MAX_REPLY = 1 << 28  # bytes of a reply: 256 MiB, over a hundred times the largest array LeNet's checks exchange
_MAX_PICKLE = 1 << 26  # bytes of its pickle (arrays travel beside it): 64 MiB, 30 times a batch of 64 as lists
_ARRAY, _OBJECT = "__ndarray__", "__object__"  # worker_main.encode's markers


class ForbiddenImport(UserInputError):
    """The user's module imports torch or a cousin at its top: nothing of it can be checked (in grading: a fail)."""


class WorkerError(Exception):
    """The worker died, hung or was stopped earlier: the message is the reason for the report."""


_MAX_REASON = 300  # characters of an exception message kept in a report row


def describe_exception(exc: BaseException) -> str:
    """``TypeError: message`` on one line, cut to a readable length."""
    message = " ".join(str(exc).split())
    if len(message) > _MAX_REASON:
        message = message[:_MAX_REASON] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class _NoClasses(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"the worker sent an object of class {module}.{name}; only plain data is read")


def _decode(value: Any, seen: set[int] | None = None) -> Any:
    """A reply's value with its arrays rebuilt over their buffers. Every container and buffer may appear once: an
    honest worker's encode builds each afresh, while a forged pickle that reuses them through its memo would make
    this walk exponential (a 209-byte reply: 5 s and 650 MB) or two arrays share memory."""
    seen = set() if seen is None else seen
    if isinstance(value, (list, dict)) or isinstance(value, tuple) and value:
        if id(value) in seen:
            raise WorkerError("the worker sent a reply that reuses its own parts (no honest worker does)")
        seen.add(id(value))
    if isinstance(value, tuple) and value and value[0] == _ARRAY and len(value) == 4:
        _, dtype, shape, data = value
        dtype = np.dtype(dtype)
        if dtype.kind not in "biuf":
            raise WorkerError(f"the worker sent an array of dtype {dtype}")
        if id(data) in seen:
            raise WorkerError("the worker sent two arrays over one buffer (no honest worker does)")
        seen.add(id(data))
        array = np.frombuffer(data, dtype=dtype).reshape(shape)  # over the message's own buffer (wire.py)
        return array if array.flags.writeable and array.flags.aligned else array.copy()
    if isinstance(value, tuple) and value and value[0] == _OBJECT and len(value) == 2:
        return OpaqueValue(value[1])
    if isinstance(value, (bytes, bytearray, memoryview, pickle.PickleBuffer)):  # a buffer outside an array
        return OpaqueValue(type(value).__name__)
    if isinstance(value, list):
        return [_decode(v, seen) for v in value]
    if isinstance(value, tuple):
        return tuple(_decode(v, seen) for v in value)
    if isinstance(value, dict):
        return {k: _decode(v, seen) for k, v in value.items()}
    return value


class OpaqueValue:
    """Something the layer returned that is not data (a generator, an object array, ...): the checks reject it,
    naming ``type_name``."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} from the layer>"


_REMOTE_ERRORS: dict[str, type] = {}


def remote_error(name: str, message: str, where: str) -> Exception:
    """An exception named like the worker's, a subclass of the builtin one when there is one (so KeyError still
    means a missing key); SystemExit and KeyboardInterrupt become plain Exceptions: they ended nothing here."""
    if name not in _REMOTE_ERRORS:
        base = getattr(builtins, name, None)
        if not (isinstance(base, type) and issubclass(base, Exception)):
            base = Exception
        _REMOTE_ERRORS[name] = type(name, (base,), {"__module__": "user layer"})
    if name == "SystemExit":
        message = f"the layer called exit({message})"
    at = f"at {where}" if where else ""
    return _REMOTE_ERRORS[name](f"{message} ({at})" if message and at else message or at)


def from_layer_side(exc: BaseException) -> bool:
    """Whether an exception came from a user's layer or its process (re-raised here by name), not from the
    harness: the checker turns those into the layer's failure."""
    return isinstance(exc, WorkerError) or type(exc).__module__ == "user layer"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # itemsize -> the integers of its bits


def _unchanged(now: Any, before: Any) -> bool:
    """Whether an argument the layer was given is as it was sent (the checker's judgment, never the worker's):
    for an array, the same dtype, shape and values, NaN where there was NaN. The same bits settle it first, 50x
    faster than ``array_equal(equal_nan=True)``, which cost a millisecond per megabyte of every call's input."""
    if isinstance(before, np.ndarray):
        if not (isinstance(now, np.ndarray) and now.shape == before.shape and now.dtype == before.dtype):
            return False
        bits = _UNSIGNED.get(before.dtype.itemsize)
        if bits is not None and bool((now.view(bits) == before.view(bits)).all()):
            return True
        return bool(np.array_equal(now, before, equal_nan=True))  # -0.0 written over 0.0 is no change
    try:
        return type(now) is type(before) and bool(now == before)
    except Exception:  # noqa: BLE001 - a comparison that raises: something changed
        return False


class Worker:
    """One worker process serving one user class; restarted (its objects lost) when it dies."""

    def __init__(self, target: str, class_name: str | None, *, timeout: float = DEFAULT_TIMEOUT,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT, pickled: bytes | None = None, allow_imports: bool = False,
                 sandbox: Sandbox = Sandbox(None, "not asked for"), options: dict[str, Any] | None = None):
        self.target, self.class_name, self.pickled = target, class_name, pickled
        self.options = options or {}
        self.allow_imports, self.sandbox = allow_imports, sandbox
        self.timeout, self.memory_limit = timeout, memory_limit
        self.generation = 0  # which process; a handle is valid only in its own
        self.deaths = 0
        self.memory_errors = 0  # MemoryErrors the layer raised: each costs the time to fill the limit
        self.slowest = (0.0, "")  # (seconds, method) of the slowest layer method that answered: a timeout's context
        self.forged: str | None = None  # why a reply was refused as no honest worker's: the layer is stopped
        self.timed_out: tuple[float, str] | None = None  # (time.monotonic(), during) of the first --timeout kill:
        # a row whose error was decided after it (CheckResult.decided_at) was cut by it (harness/grade_cells.py)
        self.proc: subprocess.Popen | None = None
        self.scratch: str | None = None
        self.output = OutputCapture()  # what every process of this worker printed
        self.dropped: list[int] = []  # handles of proxies the collector freed, for the worker to forget

    def start(self) -> list[str]:
        """A fresh process with the user's module imported (or class unpickled); the class names it offers. Bad
        input if that fails."""
        self.close()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        output_r, output_w = os.pipe()  # the layer's prints and Python's dying words
        self.scratch = tempfile.mkdtemp(prefix="lenet-parity-worker-")
        argv = [sys.executable, "-m", "lenet_parity.harness.worker_main", str(to_child_r), str(from_child_w),
                str(self.memory_limit), ALLOW_IMPORTS if self.allow_imports else FORBID_IMPORTS,
                self.label]  # the last: for ps and pgrep
        try:
            self.proc = subprocess.Popen(
                wrap(self.sandbox, argv, self.scratch, hide_frameworks=not self.allow_imports),
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, stdout=output_w, stderr=output_w,
                env=worker_environment(self.scratch), cwd=self.scratch,
                start_new_session=True)  # its own process group: its children end with it
        finally:
            for fd in (to_child_r, from_child_w, output_w):
                os.close(fd)
        for fd in (to_child_w, from_child_r):
            widen(fd)
        os.set_blocking(to_child_w, False)  # every write has a deadline (worker_io.write_all)
        os.set_blocking(from_child_r, False)  # and every read: a worker that takes back a byte it wrote into
        # its own reply pipe (it can open it again through /proc) after select saw it must not block a read
        self._request_fd, self._reply_fd = to_child_w, from_child_r
        self._replies = Inbox(from_child_r)
        self._drainer = self.output.drain(output_r)
        self.generation += 1
        self.dropped = []
        try:
            if self.pickled is not None:
                return self.request("load_pickled", self.pickled, self.options, during="import")
            return self.request("load", self.target, self.class_name, os.getcwd(), self.options, during="import")
        except WorkerError as exc:
            raise UserInputError(f"--impl {self.label}: importing {self.target}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the module raised: SyntaxError, ImportError, LookupError, ...
            if type(exc).__name__ == ForbiddenImportError.__name__:
                raise ForbiddenImport(f"{self.label}: {exc}") from None
            raise UserInputError(f"--impl {self.label}: importing {self.target} raised {type(exc).__name__}: {exc}; "
                                 f"fix the module or run it with python to see the traceback") from None

    @property
    def label(self) -> str:
        return self.target if self.class_name is None else f"{self.target}:{self.class_name}"

    def request(self, op: str, *args: Any, during: str) -> Any:
        """Send one request and wait for its reply, both by one deadline; WorkerError if the process dies or
        does not keep up."""
        if self.proc is None:
            raise WorkerError("the worker is not running")
        dropped, self.dropped = self.dropped, []
        deadline = time.monotonic() + self.timeout
        try:
            write_all(self._request_fd, pack((op, args, dropped)), deadline, alive=lambda: self.proc.poll() is None)
            wait = self._waiting(deadline, during)
            data, buffers = read_message(lambda view: self._replies.fill(view, wait), limit=_MAX_REPLY,
                                         pickle_limit=_MAX_PICKLE)
        except Oversized as exc:
            raise self.forged_reply(f"the layer's process announced a {exc.size}-byte reply during {during}: "
                                    f"killed") from None
        except PipeClosed:
            raise self._died(during) from None
        except PipeTimeout:
            self.close()
            self.timed_out = self.timed_out or (time.monotonic(), during)
            raise WorkerError(f"no answer after {self.timeout:g} s during {during}: killed (--timeout)") from None
        try:
            reply = _NoClasses(io.BytesIO(data), buffers=buffers).load()
            ok = reply[0] == "ok"
            value = _decode(reply[1]) if ok else None
            if not ok:
                _, name, message, where = reply
                name, message, where = str(name), str(message), str(where)
        except WorkerError as exc:  # an array of a dtype no honest worker sends
            raise self.forged_reply(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - a damaged or forged reply
            raise self.forged_reply(f"the worker sent an unreadable reply during {during} "
                                    f"({describe_exception(exc)})") from None
        if ok:
            return value
        if name == "MemoryError":
            self.memory_errors += 1
            message = f"{message or 'out of memory'}; memory limit {self.memory_limit / (1 << 30):g} GiB"
        raise remote_error(name, message, where)

    def forged_reply(self, reason: str) -> WorkerError:
        """A reply no honest worker sends (an announced size over the limits, an unreadable or malformed one):
        the process is killed and its factory builds nothing more (the layer would do it again, case by case)."""
        self.close()
        self.forged = self.forged or reason
        return WorkerError(reason)

    def _waiting(self, deadline: float, during: str):
        """What waits for the reply pipe by the deadline, watching the process's life and memory meanwhile."""
        def watch() -> None:
            if self.proc.poll() is not None:
                raise PipeClosed()
            resident = tree_resident_bytes(self.proc.pid)
            if resident > self.memory_limit:  # RLIMIT_AS is the first guard
                self.close()
                raise WorkerError(f"memory limit {self.memory_limit / (1 << 30):g} GiB exceeded during {during} "
                                  f"({resident / (1 << 30):.1f} GiB resident): killed (--memory-limit)")

        return lambda: readable(self._reply_fd, deadline, watch)

    def _died(self, during: str) -> WorkerError:
        proc = self.proc
        try:
            code = proc.wait(_GRACE) if proc is not None else None
        except subprocess.TimeoutExpired:  # alive, but it closed its end of the reply pipe
            code = None
        self.close()
        last = self.output.last_line()
        self.deaths += 1
        if code is not None and code > 128 and self.sandbox.active:  # bwrap reports its child's signal as 128 + n
            code = 128 - code
        if code is None:
            how = "closed its reply pipe (killed)"
        else:
            how = f"killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
        return WorkerError(f"the layer's process {how} during {during}" + (f" ({last})" if last else ""))

    def close(self) -> None:
        """SIGTERM to the worker's process group, SIGKILL after a grace period; reaped, never a zombie; its
        scratch folder removed."""
        proc, self.proc = self.proc, None
        if proc is not None:
            os.close(self._request_fd)
            os.close(self._reply_fd)
            for sig, wait in ((signal.SIGTERM, _GRACE), (signal.SIGKILL, None)):
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            self._drainer.join(_GRACE)  # its last words, once every writer of the pipe is gone
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


class RemoteDict(MutableMapping):
    """A dict attribute of a remote layer (``params``): reads and writes go to the worker."""

    def __init__(self, layer: "RemoteLayer", attr: str):
        self._layer, self._attr = layer, attr

    def __getitem__(self, key):
        return self._layer._request("item_get", self._attr, key, during=f"reading {self._attr}[{key!r}]")

    def __setitem__(self, key, value):
        self._layer._request("item_set", self._attr, key, value, during=f"setting {self._attr}[{key!r}]")

    def __delitem__(self, key):
        raise TypeError(f"the harness does not delete {self._attr} entries")

    def __iter__(self):
        return iter(self._layer._request("mapping", self._attr, during=f"reading {self._attr}") or [])

    def __len__(self):
        return len(list(iter(self)))


class RemoteLayer:
    """A user's layer object living in the worker. Subclassed per user class, named like it, for messages."""

    _LOCAL = ("_worker", "_handle", "_generation", "array_kind", "_factory", "_known")

    def __init__(self, factory: "IsolatedFactory", handle: int, array_kind: Any, known: dict[str, str] | None = None):
        object.__setattr__(self, "_factory", factory)
        object.__setattr__(self, "_worker", factory.worker)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_generation", factory.worker.generation)
        object.__setattr__(self, "array_kind", array_kind)
        # attribute -> "method" or "dict", once the worker said so: a method is looked up again by the call
        # itself, a dict by each item read or written, so neither answer can go stale; asking again for every
        # forward was a third of a training step's round trips
        object.__setattr__(self, "_known", dict(known or {}))

    def _request(self, op: str, *args: Any, during: str) -> Any:
        worker = self._worker
        if worker.generation != self._generation or worker.proc is None:
            raise WorkerError(f"not run: {self._factory.stopped or 'the layer process died earlier'}")
        try:
            return worker.request(op, self._handle, *args, during=during)
        except WorkerError as exc:
            self._factory.failed(str(exc))
            raise

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        kind = self._known.get(name)
        if kind is None:
            found = self._request("attr", name, name == "params", during=f"reading .{name}")
            if found[0] == "missing":
                raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
            if found[0] not in ("method", "dict"):
                return found[1]
            kind = self._known[name] = found[0]
        if kind == "method":
            return lambda *args: self._call(name, args)
        return RemoteDict(self, name)  # params: the harness writes entries in place

    def _call(self, method: str, args: tuple) -> Any:
        """The remote method's result; arguments it changed in place are changed here too, as in one process.
        The worker sends every argument back as it is after the call; whether it changed is judged here."""
        started = time.monotonic()
        reply = self._request("call", method, args, during=method)
        self._worker.slowest = max(self._worker.slowest, (time.monotonic() - started, method))
        if not (isinstance(reply, dict) and isinstance(reply.get("args"), list) and len(reply["args"]) == len(args)):
            raise self._factory.refused(f"the worker sent a malformed reply during {method}")
        for mine, now in zip(args, reply["args"]):
            if _unchanged(now, mine):
                continue
            if isinstance(mine, np.ndarray) and isinstance(now, np.ndarray) and mine.shape == now.shape:
                mine[...] = now
            elif isinstance(mine, list) and isinstance(now, list):
                mine[:] = now
            elif isinstance(mine, np.ndarray):  # reshaped or retyped in place: never equal to what was sent
                mine[...] = np.nan if mine.dtype.kind == "f" else mine + 1
        return reply["result"]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._LOCAL:
            raise AttributeError(f"{name} is the harness's")
        self._known.pop(name, None)
        self._request("set", name, value, during=f"setting .{name}")

    def __copy__(self) -> "RemoteLayer":
        handle = self._request("snapshot", during="copying the layer's state")
        return type(self)(self._factory, handle, self.array_kind, self._known)  # a copy has the same attributes

    def __del__(self):
        if self._worker.generation == self._generation:
            self._worker.dropped.append(self._handle)  # sent with the next request: no I/O inside the collector


_KNOWABLE = (("forward", "method"), ("backward", "method"), ("params", "dict"))  # what a build may tell


class _Malformed(Exception):
    """A reply of the right kind but not the right shape: forged (IsolatedFactory.refused)."""


def _built(reply: Any) -> tuple[int, Any, str, dict[str, str]]:
    """A build's reply (handle, array kind, class name, what is known of its attributes), checked: a forged one
    is the worker's failure, never a traceback here."""
    if not (isinstance(reply, tuple) and len(reply) == 4 and type(reply[0]) is int and isinstance(reply[3], dict)):
        raise _Malformed("the worker sent a malformed reply during the constructor")
    handle, array_kind, name, known = reply
    known = {k: v for k, v in known.items() if (k, v) in _KNOWABLE}
    return handle, array_kind, str(name), known


class IsolatedFactory:
    """``factory(spec)`` builds the user's class in the worker; ``accepts(spec)`` asks its constructor.

    ``impl`` is ``path/to/file.py:CLASS`` or ``MODULE:CLASS`` (one class for every layer checked),
    ``path/to/file.py`` or ``path/to/folder/`` (the user's code: each layer gets what implements its torch layer,
    found by conventions/detect.py), or a class object (sent by value, so a class defined in a notebook or a test
    works too). ``convention`` forces one convention; ``declared`` is an adapter file's content (torch class ->
    names and layouts).
    """

    def __init__(self, impl: Any, *, timeout: float = DEFAULT_TIMEOUT, memory_limit: int = DEFAULT_MEMORY_LIMIT,
                 allow_imports: bool = False, sandbox: bool = True, convention: str | None = None,
                 declared: dict[str, Any] | None = None):
        pickled = None
        if isinstance(impl, type):
            target, class_name, pickled = f"{impl.__module__}.{impl.__qualname__}", impl.__name__, _by_value(impl)
        elif isinstance(impl, (str, os.PathLike)) and (str(impl).endswith(".py") or Path(impl).is_dir()):
            target, class_name = str(impl), None  # the user's whole code
        else:
            target, sep, class_name = str(impl).rpartition(":")
            if not sep or not target or not class_name:
                raise UserInputError(f"--impl {impl!r}: expected path/to/file.py or path/to/folder (your code), "
                                     f"path/to/file.py:CLASS or MODULE:CLASS, e.g. examples/my_conv.py:MyConv2d")
        if pickled is None and class_name is not None and (target.endswith(".py") or "/" in target) \
                and not Path(target).is_file():
            raise UserInputError(f"--impl: {target} not found (give path/to/file.py[:CLASS], relative to the current "
                                 f"directory)")
        self.sandbox = probe() if sandbox else Sandbox(None, "turned off (--no-sandbox)")
        self.worker = Worker(target, class_name, timeout=timeout, memory_limit=memory_limit, pickled=pickled,
                             allow_imports=allow_imports, sandbox=self.sandbox,
                             options={"convention": convention, "declared": declared or {}})
        self.impl = self.label = self.worker.label
        self.whole_file = class_name is None
        self.stopped: str | None = None  # why no more layers are built
        self._found = self.worker.start()  # torch class -> [convention, name, description] (empty: one class)
        self.classes = sorted(self._found)
        self._proxies: dict[str, type] = {}

    def defines(self, torch_class: str) -> bool:
        """Whether a layer of this torch class can be built (always, for a single class)."""
        return not self.whole_file or torch_class in self._found

    @property
    def found(self) -> dict[str, str]:
        """torch class -> what implements it and through which convention, in words."""
        return {name: str(entry[2]) for name, entry in self._found.items()}

    def class_name(self, torch_class: str) -> str | None:
        """The user's class that a repro file can import for this torch class: one used as it is (our protocol);
        None for a layer read through another convention (an adapter the repro file cannot carry)."""
        entry = self._found.get(torch_class)
        if entry is None:
            return None if self.whole_file else self.worker.class_name
        if entry[0] != "torchlike":
            return None
        return str(entry[1]) if self.whole_file else self.worker.class_name

    def failed(self, reason: str) -> None:
        """After a hang, a forged reply or a second death, stop: every later layer is "not run", so the run ends
        soon."""
        if self.worker.proc is None and self.stopped is None:
            if "no answer" in reason or self.worker.forged or self.worker.deaths >= 2:
                self.stopped = f"the layer was stopped earlier: {reason}"

    def refused(self, reason: str) -> WorkerError:
        """A reply refused as forged (see Worker.forged_reply): the worker killed, the layer stopped."""
        error = self.worker.forged_reply(reason)
        self.failed(reason)
        return error

    def _ready(self) -> None:
        if self.stopped is None and self.worker.memory_errors >= 2:  # it would fill the limit again, case by case
            self.stopped = (f"the layer was stopped earlier: it ran out of memory twice (memory limit "
                            f"{self.worker.memory_limit / (1 << 30):g} GiB)")
        if self.stopped:
            raise WorkerError(f"not run: {self.stopped}")
        if self.worker.proc is None:
            self.worker.start()

    def accepts(self, spec: Any) -> bool:
        """Whether the constructor takes these arguments; True when the worker cannot say (a stopped or dying
        layer): building it then reports why."""
        try:
            self._ready()
            parameters = self.worker.request("signature", spec.cls,
                                             during="reading the constructor's signature")
        except WorkerError as exc:
            self.failed(str(exc))
            return True
        except Exception:  # noqa: BLE001 - the user's class raised while its signature was read: build it and see
            return True
        return fits(parameters, dict(spec.kwargs))  # judged here, from the parameters the worker read

    def __call__(self, spec: Any) -> RemoteLayer:
        self._ready()
        try:
            reply = self.worker.request("build", dict(spec.kwargs), spec.cls, during="the constructor")
            handle, array_kind, name, known = _built(reply)
        except _Malformed as exc:
            raise self.refused(str(exc)) from None
        except WorkerError as exc:
            self.failed(str(exc))
            raise
        if name not in self._proxies:
            self._proxies[name] = type(name, (RemoteLayer,), {})
        return self._proxies[name](self, handle, array_kind, known)

    @property
    def output(self) -> OutputCapture:
        """What the layer printed, in every process this factory started."""
        return self.worker.output

    def report_into(self, run: Any) -> None:
        """Tell the run (a CheckRun) where the layer ran, with a note when it was not sandboxed, what it found in
        the user's code, and what the code printed."""
        for torch_class, text in sorted(self.found.items()):
            if run.results and any(r.layer for r in run.results):
                run.note(f"{torch_class}: {text}")
        run.sandbox = self.sandbox.describe()
        if not self.sandbox.active:
            run.note(f"the layer ran {run.sandbox}: only Python-level guards stood between it and this machine")
        run.keep_output(self.output)

    def close(self, *, describe: bool = True) -> None:
        """End the worker; first (``describe``) ask it what its builds and backwards found, for the report. Not
        after an interruption: a call may still be under way there, and Ctrl-C must not wait for it."""
        if describe and self.worker.proc is not None:
            try:
                self._found = {str(k): list(v) for k, v in dict(self.worker.request(
                    "described", during="describing what was found")).items()}
            except Exception:  # noqa: BLE001 - the load-time descriptions stand
                pass
        self.worker.close()

    def __enter__(self) -> "IsolatedFactory":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self.close(describe=exc_type is None)


def _by_value(cls: type) -> bytes:
    """The class pickled with its code (cloudpickle), not as a reference the worker might not be able to import."""
    import cloudpickle

    module = sys.modules.get(cls.__module__)
    by_value = module is not None and cls.__module__ != "__main__"
    if by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(cls)
    finally:
        if by_value:
            cloudpickle.unregister_pickle_by_value(module)
