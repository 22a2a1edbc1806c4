"""``make bench-grading``: submissions graded per minute, local process pool vs Ray, on one class.

Run as ``.venv/bin/python benchmarks/bench_grading.py [--students 20] [--workers 2] [--out reports/bench-grading.json]``.
The class comes from tests/student_layers/classroom.py (correct, buggy, syntax error, exit and hang at import,
torch import, missing class, in turn). Each executor grades it once with ``lenet-parity grade``; the two
gradebooks must be identical (else exit 1). Prints a table and writes it as JSON, atomically.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import timeit
from operator import mul
from pathlib import Path

import click
import torch

from lenet_parity.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "student_layers"))
from classroom import make_class  # noqa: E402 - the class lives beside the tests that grade it


def yardstick_ns() -> float:
    """How fast this machine runs plain Python right now (ns per element of sum(map(mul)) over 150 floats, the
    bench's yardstick): a noisy VM's figures from different times compare only through it."""
    a = [i / 7 for i in range(150)]
    return min(timeit.repeat(lambda: sum(map(mul, a, a)), number=20000, repeat=5)) / 20000 / 150 * 1e9


def grade_once(folder: Path, out: Path, executor: str, workers: int, timeout: float) -> float:
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("lenet-parity")), "grade", str(folder), "--out", str(out),
                    "--executor", executor, "--workers", str(workers), "--timeout", str(timeout)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


@click.command()
@click.option("--students", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--timeout", type=float, default=10, show_default=True, help="Seconds per call (the hang's cost).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("reports/bench-grading.json"))
def main(students: int, workers: int, timeout: float, out: Path) -> None:
    rows = []
    before = yardstick_ns()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "class")
        make_class(folder, students)
        books = {}
        for executor in ("local", "ray"):
            seconds = grade_once(folder, Path(tmp, executor), executor, workers, timeout)
            books[executor] = Path(tmp, executor, "gradebook.csv").read_text()
            rows.append({"executor": executor, "students": students, "workers": workers, "seconds": round(seconds, 1),
                         "per_minute": round(60 * students / seconds, 1)})
            click.echo(f"{executor:>6}: {students} submissions in {seconds:6.1f} s = "
                       f"{60 * students / seconds:5.1f} submissions/min")
    same = books["local"] == books["ray"]
    yardstick = [round(before, 2), round(yardstick_ns(), 2)]
    click.echo(f"gradebooks identical: {same}; yardstick {yardstick[0]} / {yardstick[1]} ns before / after")
    atomic_write_text(out, json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
        "timeout": timeout, "yardstick_ns_before_after": yardstick, "gradebooks_identical": same, "rows": rows},
        indent=1) + "\n")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
