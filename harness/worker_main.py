"""The isolated worker's entry point: import a user's layer class, then build and call its objects on request.

Started by harness/isolation.py as ``python -m lenet_parity.harness.worker_main FD_IN FD_OUT LIMIT_BYTES allow-imports|forbid-imports IMPL``
in a fresh interpreter. It imports NumPy and the user's module, never torch (an import finder refuses it,
unless a teacher allows imports), and
answers each request with plain data: arrays go back as (dtype, shape, bytes), so the parent unpickles
nothing but builtins. Whatever the user's code raises, SystemExit included, becomes an error reply.
"""

from __future__ import annotations

import copy
import importlib
import importlib.abc
import importlib.util
import inspect
import os
import pickle
import resource
import signal
import sys
import traceback
import types
from pathlib import Path

from lenet_parity.conventions.detect import Found, class_convention, find, not_found_message, user_definitions
from lenet_parity.conventions.importing import import_user_code
from lenet_parity.conventions.names import did_you_mean
from lenet_parity.custom_layers.backends import MODULES
from lenet_parity.custom_layers.protocol import signature_of
from lenet_parity.harness.wire import IOV_MAX, Inbox, PipeClosed, pack, read_message, written

FORBIDDEN = ("torch", "torchvision", "tensorflow", "jax")  # the answer key and its cousins: a layer is written, not borrowed
ALLOW_IMPORTS, FORBID_IMPORTS = "allow-imports", "forbid-imports"  # the worker's fourth argument
FILE_LIMIT = 1 << 30  # bytes: the largest file the worker may write (its prints go to a log file)
TORCH_LAYERS = tuple(MODULES)  # torch class names: the variants model's layers are found by these names alone
ARRAY, OBJECT = "__ndarray__", "__object__"


class ForbiddenImportError(ImportError):
    """A forbidden framework was imported (still an ImportError: ``except ImportError`` fallbacks work)."""


class ForbiddenImports(importlib.abc.MetaPathFinder):
    """Refuses the frameworks that would compute the answer for the layer (the audit hook below is the guard
    that cannot be removed; this finder gives the same refusal a line number in the user's module)."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            raise ForbiddenImportError(_refusal(name))
        return None


def _refusal(name: str) -> str:
    return (f"imports {name.split('.')[0]}: not allowed in a layer under test (write it with NumPy or plain Python; "
            f"a teacher can lift this with --allow-imports)")


_SPAWNING = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
             "pty.spawn")


_SELF = os.getpid()  # read once, before any user code (which may rebind os.getpid); in the sandbox: its own
# process group is bubblewrap's init's, so only a group this process leads counts as its own


def _guard(event: str, args: tuple) -> None:
    """An audit hook (it cannot be removed once added): no forbidden framework, no new processes, no signals
    to other processes. A layer computes; it has no reason to do any of these."""
    if event == "import" and str(args[0]).split(".")[0] in FORBIDDEN:
        raise ForbiddenImportError(_refusal(str(args[0])))
    if event == "ctypes.dlopen" and any(name in str(args[0]) for name in FORBIDDEN):
        raise ForbiddenImportError(f"loading {args[0]} is not allowed in a layer under test")
    if event in _SPAWNING:
        raise PermissionError(f"a layer under test may not start processes ({event})")
    if event == "os.kill" and args[0] not in (_SELF, 0) or event == "os.killpg" and args[0] != _SELF:
        raise PermissionError(f"a layer under test may not signal other processes ({event} {args[0]})")


def encode(value, depth: int = 0):
    """``value`` as builtins only: arrays as (ARRAY, dtype, shape, bytes), anything unknown as (OBJECT, type name)."""
    import numpy as np

    if depth > 64:
        return (OBJECT, "a structure nested over 64 levels")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return (OBJECT, f"ndarray of dtype {value.dtype}")
        return (ARRAY, value.dtype.str, tuple(value.shape), pickle.PickleBuffer(np.ascontiguousarray(value)))
    if isinstance(value, np.generic):
        return value.item() if value.dtype.kind in "biuf" else (OBJECT, type(value).__name__)
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (list, tuple)):
        items = [encode(v, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {str(k): encode(v, depth + 1) for k, v in value.items()}
    return (OBJECT, type(value).__name__)


def where(exc: BaseException) -> str:
    """``file.py:42 in backward``: the innermost frame of the traceback outside this module."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename != __file__ and not f.filename.startswith("<frozen")]
    if not frames:
        return ""
    f = frames[-1]
    return f"{Path(f.filename).name}:{f.lineno} in {f.name}"


def known_at_build(obj) -> dict[str, str]:
    """What the ``attr`` request would answer about a new object: forward and backward plain functions
    ("method"), params a dict ("dict"), read without running any of the object's code (no property, no
    ``__getattr__``; a class with its own ``__getattribute__`` gets nothing): the checker need not ask for each
    object it builds (a third of a sweep's requests). Anything else is asked when it is needed, as before."""
    if type(obj).__getattribute__ is not object.__getattribute__:
        return {}
    known = {}
    for name in ("forward", "backward"):
        if isinstance(inspect.getattr_static(obj, name, None), types.FunctionType):
            known[name] = "method"
    if type(inspect.getattr_static(obj, "params", None)) is dict:
        known["params"] = "dict"
    return known


class Server:
    def __init__(self):
        self.found: dict[str, Found] = {}  # torch class -> what implements it (conventions/detect.py)
        self.single = None  # (class, options): the one class of a MODULE:CLASS impl, for every layer checked
        self.objects: dict[int, object] = {}
        self.next_handle = 0

    def _keep(self, obj) -> int:
        self.next_handle += 1
        self.objects[self.next_handle] = obj
        return self.next_handle

    def load(self, target: str, class_name: str | None, cwd: str, options: dict | None = None) -> dict[str, str]:
        """Import the user's code (a file, a folder of modules, or a module name, relative to the checker's
        ``cwd``); what it offers: torch class -> what implements it and how (conventions/detect.py). With
        ``class_name``, that one class serves whichever layer is checked."""
        options = options or {}
        namespace, modules, named = import_user_code(Path(cwd), target)
        classes, functions = user_definitions(namespace, modules)
        if class_name is not None:
            cls = namespace.get(class_name)
            if cls is None:
                raise LookupError(f"{target} has no {class_name!r}{did_you_mean(class_name, list(classes))}; its "
                                  f"classes: {', '.join(sorted(classes)) or 'none'}")
            if not callable(cls):
                raise LookupError(f"{class_name} is a {type(cls).__name__}, not a class")
            self.single = (cls, options)
            return {}
        self.found = find(classes, functions, convention=options.get("convention"),
                          declared=options.get("declared"), named=named)
        for name, cls in classes.items():  # the variants model's layers: by their torch names only
            if name in TORCH_LAYERS and name not in self.found:
                self.found[name] = Found(name, "torchlike", name, cls)
        if not self.found:
            raise LookupError(not_found_message(target, classes, functions))
        return self.described()

    def load_pickled(self, data: bytes, options: dict | None = None) -> dict[str, str]:
        """A class sent by value (cloudpickle): one defined in a notebook or a test module."""
        self.single = (pickle.loads(data), options or {})
        return {}

    def _found(self, torch_class: str) -> Found:
        if torch_class not in self.found and self.single is not None:
            cls, options = self.single
            convention = options.get("convention") or class_convention(cls, torch_class)
            self.found[torch_class] = Found(torch_class, convention, getattr(cls, "__name__", "the class"), cls,
                                            declared=(options.get("declared") or {}).get(torch_class, {}))
        return self.found[torch_class]

    def signature(self, torch_class: str) -> list | None:
        """The constructor's parameters as plain data (the checker judges whether a configuration fits); None
        for a class used through a convention (it declines a configuration by raising TypeError)."""
        found = self._found(torch_class)
        return signature_of(found.obj) if found.convention == "torchlike" else None

    def build(self, kwargs: dict, torch_class: str):
        """The new object's handle, array kind and source, and what the checker may know of it without asking."""
        found = self._found(torch_class)
        obj = found.build(kwargs)
        return self._keep(obj), getattr(obj, "array_kind", "numpy"), found.source, known_at_build(obj)

    def described(self) -> dict[str, list[str]]:
        """torch class -> [convention, the class or functions' name, what was found (with what its first build and
        backward showed)], for each layer found or built so far."""
        return {name: [found.convention, found.source, found.describe()] for name, found in sorted(self.found.items())}

    def attr(self, handle: int, name: str, live_dict: bool):
        """("missing",), ("method",), ("dict",) for a dict the parent edits in place (live_dict), or ("value", v)."""
        obj = self.objects[handle]
        if not hasattr(obj, name):
            return ("missing",)
        value = getattr(obj, name)
        if callable(value) and name in ("forward", "backward"):
            return ("method",)
        if live_dict and isinstance(value, dict):
            return ("dict",)
        return ("value", value)

    def set(self, handle: int, name: str, value) -> None:
        setattr(self.objects[handle], name, value)

    def call(self, handle: int, method: str, args: tuple) -> dict:
        """The method's result, and its arguments as they are after the call: the checker judges what changed
        (and applies it to its own copies, so an in-place forward or backward is seen as in one process)."""
        result = getattr(self.objects[handle], method)(*args)
        return {"result": result, "args": list(args)}

    def item_set(self, handle: int, attr: str, key, value) -> None:
        getattr(self.objects[handle], attr)[key] = value

    def item_get(self, handle: int, attr: str, key):
        return getattr(self.objects[handle], attr)[key]

    def mapping(self, handle: int, attr: str) -> list | None:
        """The keys of a dict attribute (None when it is not a dict)."""
        value = getattr(self.objects[handle], attr, None)
        return list(value) if isinstance(value, dict) else None

    def snapshot(self, handle: int) -> int:
        """A shallow copy whose dicts are copied one level: a later forward cannot change this one's cache."""
        obj = self.objects[handle]
        state = copy.copy(obj)
        for key, value in vars(obj).items():
            if isinstance(value, dict):
                setattr(state, key, dict(value))
        return self._keep(state)



def serve(fd_in: int, fd_out: int) -> None:
    server, requests = Server(), Inbox(fd_in)
    while True:
        try:
            request, buffers = read_message(requests.fill)
        except PipeClosed:
            return  # the parent is gone
        op, args, dropped = pickle.loads(request, buffers=buffers)  # from the checker: trusted
        for handle in dropped:  # objects the parent no longer holds
            server.objects.pop(handle, None)
        try:
            reply = ("ok", encode(getattr(server, op)(*args)))
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt from user code too
            reply = error_reply(exc)
        try:
            views = pack(reply)
        except BaseException as exc:  # noqa: BLE001 - e.g. a str subclass that refuses pickling
            views = pack(("error", "TypeError", f"the reply cannot be sent: {type(exc).__name__}", ""))
        send(fd_out, views)


def error_reply(exc: BaseException) -> tuple:
    """("error", name, message, where) in plain strings, even for an exception whose str() raises."""
    try:
        name = str(type(exc).__name__)
    except BaseException:  # noqa: BLE001 - a metaclass may make even the name raise
        name = "Exception"
    try:
        message = " ".join(str(exc).split())[:20000]  # whole: a list of what a file defines is never cut
    except BaseException:  # noqa: BLE001 - a user's __str__ may raise anything
        message = "its message cannot be read (str() raised)"
    try:
        return ("error", name, message, where(exc))
    except BaseException:  # noqa: BLE001
        return ("error", name, message, "")


def send(fd: int, views: list) -> None:
    """One reply (wire.pack's buffers), whole: what harness/worker_io.py reads."""
    while views:
        views = written(views, os.writev(fd, views[:IOV_MAX]))


def _end_with_parent() -> None:
    """Linux: be killed when the process that started us dies (killed by Ray, the OOM killer, ...), so a layer
    stuck in a loop never outlives the check; its own process group would otherwise keep it running."""
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's close() still ends us
        return
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def main() -> None:
    global FORBIDDEN
    _end_with_parent()
    fd_in, fd_out, limit, imports = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if imports == ALLOW_IMPORTS:
        FORBIDDEN = ()
    import numpy  # noqa: F401 - imported before the guards: its own start-up is not the layer's doing

    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))  # no file (or log) larger than this
    sys.meta_path.insert(0, ForbiddenImports())
    sys.addaudithook(_guard)
    serve(fd_in, fd_out)


if __name__ == "__main__":
    main()
