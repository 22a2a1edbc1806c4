"""cProfile of the NumPy training step and the pure-Python forward: where the time goes, before optimising.

cProfile sees Python functions and builtins only: a NumPy ufunc or matmul runs inside its caller's own
time (tottime), so a layer method's tottime is mostly the array work it does. The garbage collector
stays on, and its pauses are charged to whichever function happened to allocate.
"""

from __future__ import annotations

import cProfile
import os
import pstats
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _where(filename: str, line: int, func: str) -> str:
    if filename == "~":  # a builtin
        return func
    for prefix in (ROOT + os.sep, os.path.dirname(os.__file__) + os.sep):
        if filename.startswith(prefix):
            filename = filename[len(prefix):]
            break
    if "site-packages" in filename:
        filename = filename.split("site-packages" + os.sep, 1)[1]
    return f"{filename}:{line}({func})"


def profile(fn: Callable[[], Any], top: int) -> dict[str, Any]:
    """Run fn under cProfile; the ``top`` entries by own time, and the total."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # by tottime
    entries = [{"function": _where(*key), "ncalls": nc, "tottime_s": tt, "cumtime_s": ct}
               for key, (_, nc, tt, ct, _) in rows[:top]]
    return {"total_s": stats.total_tt, "entries": entries}


def format_profile(title: str, result: dict[str, Any]) -> str:
    lines = [title, f"  total {result['total_s']:.3f} s (under the profiler, which slows Python calls; gc pauses are "
                    f"charged to the function that allocated)",
             f"  {'ncalls':>8} {'tottime':>9} {'share':>6} {'cumtime':>9}  function"]
    for e in result["entries"]:
        share = 100 * e["tottime_s"] / result["total_s"] if result["total_s"] else 0.0
        lines.append(f"  {e['ncalls']:>8} {e['tottime_s']:>9.4f} {share:>5.1f}% {e['cumtime_s']:>9.4f}  {e['function']}")
    return "\n".join(lines)
