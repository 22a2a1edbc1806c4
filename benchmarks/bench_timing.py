"""Timing for the benchmark: interleaved timeit-style repeats (median per call, wall and CPU clocks), thread control.

The machine is shared, so no single number is trusted: the cases being compared run in turn, round
after round (a load spike hits all of them), and each repeat records time.perf_counter (wall) and
time.process_time (CPU of the whole process: with T threads it adds up all T, spinning included).
"""

from __future__ import annotations

import ctypes
import gc
import glob
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch


@dataclass
class Timing:
    """Seconds per call: the median over repeats of (repeat's time / loops), on both clocks."""

    wall: float
    cpu: float
    loops: int
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    def to_dict(self, scale: float = 1.0) -> dict[str, Any]:
        return {"wall_s": self.wall * scale, "cpu_s": self.cpu * scale, "loops": self.loops,
                "best_wall_s": min(self.walls) * scale, "best_cpu_s": min(self.cpus) * scale,
                "repeats": len(self.walls), "walls_s": [w * scale for w in self.walls],
                "cpus_s": [c * scale for c in self.cpus]}


@dataclass
class Case:
    name: str
    fn: Callable[[], Any]
    setup: Callable[[], None] | None = None  # untimed, before every repeat (e.g. set the thread count)
    repeats: int = 7
    loops: int | None = None  # calls per repeat; None: calibrate (slow cases: 1, after one warm-up call)
    keep_gc: bool = False  # keep the garbage collector on (timeit turns it off): whole-model figures want it


def _timed(fn: Callable[[], Any], loops: int, keep_gc: bool = False) -> tuple[float, float]:
    """(wall, cpu) seconds for ``loops`` calls, with the garbage collector off unless ``keep_gc``."""
    enabled = gc.isenabled()
    if not keep_gc:
        gc.disable()
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(loops):
            fn()
        return time.perf_counter() - w0, time.process_time() - c0
    finally:
        if enabled:
            gc.enable()


def calibrate(fn: Callable[[], Any], min_time: float) -> int:
    """timeit.autorange: the smallest of 1, 2, 5, 10, 20, 50, ... calls that take at least ``min_time``.

    The first call is a warm-up (caches, torch's lazy init) and is not counted.
    """
    fn()
    loops = 1
    while True:
        for factor in (1, 2, 5):
            n = loops * factor
            if _timed(fn, n)[0] >= min_time:
                return n
        loops *= 10


def interleaved(cases: list[Case], min_time: float) -> dict[str, Timing]:
    """Time every case, round-robin: round r runs each case that still has repeats left."""
    loops = {}
    for case in cases:
        if case.setup:
            case.setup()
        if case.loops is None:
            loops[case.name] = calibrate(case.fn, min_time)
        else:
            case.fn()  # warm-up
            loops[case.name] = case.loops
    walls: dict[str, list[float]] = {c.name: [] for c in cases}
    cpus: dict[str, list[float]] = {c.name: [] for c in cases}
    for r in range(max(c.repeats for c in cases)):
        for case in cases:
            if r >= case.repeats:
                continue
            if case.setup:
                case.setup()
            wall, cpu = _timed(case.fn, loops[case.name], case.keep_gc)
            walls[case.name].append(wall / loops[case.name])
            cpus[case.name].append(cpu / loops[case.name])
    return {c.name: Timing(statistics.median(walls[c.name]), statistics.median(cpus[c.name]), loops[c.name],
                           walls[c.name], cpus[c.name]) for c in cases}


# --- thread counts: torch's intra-op pool and numpy's OpenBLAS ---

def _openblas_functions() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """get/set of the OpenBLAS that numpy loaded (the library threadpoolctl would find), or None."""
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*.so*")
    for path in sorted(glob.glob(libs)):
        lib = ctypes.CDLL(path)  # already loaded by numpy: dlopen hands back the same library
        for get_name, set_name in (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                                   ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                                   ("openblas_get_num_threads", "openblas_set_num_threads")):
            if hasattr(lib, get_name) and hasattr(lib, set_name):
                getter, setter = getattr(lib, get_name), getattr(lib, set_name)
                getter.restype, setter.argtypes = ctypes.c_int, [ctypes.c_int]
                return getter, setter
    return None


_BLAS = _openblas_functions()


def blas_threads() -> int | None:
    """numpy's OpenBLAS thread count (None when it cannot be read)."""
    return int(_BLAS[0]()) if _BLAS else None


def blas_controllable() -> bool:
    return _BLAS is not None


@dataclass(frozen=True)
class Threads:
    """A thread setting applied to torch and to numpy's BLAS together; ``label`` says where it comes from."""

    key: str  # "1t" or e.g. "2t": the suffix of the result columns
    torch: int
    blas: int | None  # None: leave numpy's BLAS as it is
    label: str

    def apply(self) -> None:
        fewer = torch.get_num_threads() > self.torch or (self.blas is not None and _BLAS and _BLAS[0]() > self.blas)
        if torch.get_num_threads() != self.torch:
            torch.set_num_threads(self.torch)
        if self.blas is not None and _BLAS and _BLAS[0]() != self.blas:
            _BLAS[1](self.blas)
        if fewer:
            settle()


def settle(window: float = 0.02, limit: float = 1.0) -> float:
    """Wait until the process's idle worker threads stop spin-waiting; returns the seconds waited.

    After a multi-threaded call, OpenBLAS's workers spin for ~0.15 s here (torch's OpenMP ones ~10 ms)
    before they sleep: a one-thread case timed in that window is charged their CPU time, and on a
    hyper-threaded core it runs slower too. Sleeps in ``window`` steps until one uses < 10% CPU.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        c0 = time.process_time()
        time.sleep(window)
        if time.process_time() - c0 < 0.1 * window:
            break
    return time.perf_counter() - start


def thread_settings(multi: int | None = None) -> list[Threads]:
    """One thread, and torch's default (what ``lenet-parity train`` runs with: it sets no thread count).

    When the environment made the default 1 (``make`` exports OMP_NUM_THREADS=1), or ``multi`` is given,
    the second setting uses that many threads (default: the usable CPUs) so that both are measured.
    """
    default_torch, default_blas = torch.get_num_threads(), blas_threads()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    one = Threads("1t", 1, 1, "1 thread (torch.set_num_threads(1), OpenBLAS 1)")
    if multi is not None:
        n, why = multi, f"--threads {multi}"
    elif default_torch > 1:
        n, why = default_torch, "torch's default thread count"
    else:
        n = cpus
        why = f"the usable CPUs (torch's default is 1 here: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})"
    if n == 1:
        return [one]
    blas = n if default_blas is not None else None
    return [one, Threads(f"{n}t", n, blas, f"{n} threads, {why}; OpenBLAS {n}")]
