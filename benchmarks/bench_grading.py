"""``make bench-grading``: how fast a class is graded, against ``check all --impl`` on one of its files.

Run as ``.venv/bin/python benchmarks/bench_grading.py [--students 20] [--workers 2] [--out FILE.json]``.
The class is ``--students`` correct copies of one file (tests/student_layers/numpy_layers.py), so every submission
does all the work (no early exit, no timeout). It is graded with ``lenet-parity grade`` by a local process pool of
``--workers`` and, when Ray is installed, by a local Ray of 1 and of ``--workers`` CPUs; every gradebook must be
the same and all pass (else exit 1). The figure of merit is the cost of one submission, in worker-seconds
(seconds x workers / students), over the seconds of ``check all --impl`` on that one file (median of
``--repeat``; issue 23's target: at most 0.5); the same ratio in CPU seconds (user + system of every process of the
command) is the one to trust on a busy machine. Each figure carries the load average when it was taken (another
program on a 2-core VM doubles the wall-clock). Prints a table and writes it as JSON, atomically.
"""

from __future__ import annotations

import csv
import datetime
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import torch

from lenet_parity.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("lenet-parity"))
STUDENT_FILE = ROOT / "tests" / "student_layers" / "numpy_layers.py"


def timed(command: list[str]) -> tuple[float, float]:
    """Seconds of one command, which must succeed: wall-clock, and the CPU its processes used (user + system,
    a figure another program's load on the machine changes much less than the wall-clock)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def load() -> float:
    """The 1-minute load average: on 2 cores, 1.0 is another process taking one of them."""
    return round(os.getloadavg()[0], 2)


def make_class(folder: Path, students: int) -> None:
    folder.mkdir(parents=True)
    for i in range(students):
        (folder / f"student-{i:02d}.py").write_bytes(STUDENT_FILE.read_bytes())


def all_passed(gradebook: Path) -> bool:
    with gradebook.open() as f:
        return all(float(row["score"]) == 1.0 for row in csv.DictReader(f))


@click.command()
@click.option("--students", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True,
              help="Runs of check all --impl (the median is the yardstick).")
@click.option("--timeout", type=float, default=60, show_default=True, help="Seconds per call.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("reports/bench-grading.json"))
def main(students: int, workers: int, repeat: int, timeout: float, out: Path) -> None:
    check_all = [timed([CLI, "check", "all", "--impl", str(STUDENT_FILE)]) for _ in range(repeat)]
    one, one_cpu = statistics.median(t for t, _ in check_all), statistics.median(c for _, c in check_all)
    click.echo(f"check all --impl {STUDENT_FILE.name}: {one:.2f} s, {one_cpu:.2f} s CPU (medians of {repeat}: "
               f"{[round(t, 2) for t, _ in check_all]}), load {load()}")
    runs = [("local", workers)]
    if importlib.util.find_spec("ray") is not None:
        runs += [("ray", 1), ("ray", workers)] if workers > 1 else [("ray", 1)]
    else:
        click.echo("ray is not installed in this venv (make .venv/.ray-installed): its rows are skipped")
    rows, books = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "class")
        make_class(folder, students)
        for executor, n in runs:
            grades = Path(tmp, f"{executor}-{n}")
            load_before = load()
            seconds, cpu = timed([CLI, "grade", str(folder), "--out", str(grades), "--executor", executor,
                                  "--workers", str(n), "--timeout", str(timeout)])
            cost = seconds * n / students  # worker-seconds per submission
            books.add((grades / "gradebook.csv").read_text())
            passed = all_passed(grades / "gradebook.csv")
            rows.append({"executor": executor, "workers": n, "students": students, "seconds": round(seconds, 1),
                         "per_minute": round(60 * students / seconds, 1), "cost_per_submission": round(cost, 2),
                         "ratio_to_check_all": round(cost / one, 2), "cpu_seconds": round(cpu, 1),
                         "cpu_ratio_to_check_all": round(cpu / students / one_cpu, 2), "all_passed": passed,
                         "load_before_after": [load_before, load()]})
            click.echo(f"{executor:>5} x{n}: {students} submissions in {seconds:6.1f} s = "
                       f"{60 * students / seconds:5.1f}/min; {cost:.2f} worker-s each = {cost / one:.2f} x check all "
                       f"--impl; CPU {cpu / students:.2f} s each = {cpu / students / one_cpu:.2f} x; all passed: "
                       f"{passed}; load {load_before} -> {load()}")
    same = len(books) == 1
    ok = same and all(r["all_passed"] for r in rows)
    click.echo(f"gradebooks identical: {same}")
    atomic_write_text(out, json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
        "file": STUDENT_FILE.name, "check_all_seconds": [round(t, 2) for t, _ in check_all],
        "check_all_cpu_seconds": [round(c, 2) for _, c in check_all], "check_all_median": round(one, 2),
        "check_all_cpu_median": round(one_cpu, 2), "timeout": timeout, "gradebooks_identical": same, "rows": rows},
        indent=1) + "\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
