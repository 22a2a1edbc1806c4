"""``make bench-sandbox``: what the bubblewrap boundary costs, the same commands with and without it.

Run as ``.venv/bin/python benchmarks/bench_sandbox.py [--repeat 3] [--students 12] [--out reports/bench-sandbox.json]``.
Two workloads, each timed ``--repeat`` times in turn with the sandbox and with ``--no-sandbox`` (interleaved, so a
noisy VM's slow minute hurts both): ``check all --impl`` on a student's whole file of NumPy layers
(tests/student_layers/numpy_layers.py), and ``grade`` on a class of ``--students`` from
tests/student_layers/classroom.py. Prints the medians and their ratio; writes them as JSON, atomically.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import torch

from lenet_parity.atomic import atomic_write_text
from lenet_parity.harness.sandbox import probe

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("lenet-parity"))
sys.path.insert(0, str(ROOT / "tests" / "student_layers"))
from classroom import make_class  # noqa: E402 - the class lives beside the tests that grade it


def seconds_of(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


@click.command()
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--students", type=click.IntRange(min=1), default=12, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("reports/bench-sandbox.json"))
def main(repeat: int, students: int, out: Path) -> None:
    if not probe().active:
        raise click.ClickException(f"nothing to compare: {probe().describe()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "class")
        make_class(folder, students)
        workloads = {
            "check all --impl numpy_layers.py": [CLI, "check", "all", "--impl",
                                                 str(ROOT / "tests" / "student_layers" / "numpy_layers.py")],
            f"grade a class of {students}": [CLI, "grade", str(folder), "--out", str(Path(tmp, "grades")),
                                             "--timeout", "10"],
        }
        for name, command in workloads.items():
            times = {"sandboxed": [], "no sandbox": []}
            for _ in range(repeat):
                times["sandboxed"].append(seconds_of(command))
                times["no sandbox"].append(seconds_of([*command, "--no-sandbox"]))
            medians = {k: statistics.median(v) for k, v in times.items()}
            ratio = medians["sandboxed"] / medians["no sandbox"]
            rows.append({"workload": name, "repeat": repeat, "seconds": {k: [round(t, 2) for t in v]
                                                                           for k, v in times.items()},
                         "median_sandboxed": round(medians["sandboxed"], 2),
                         "median_no_sandbox": round(medians["no sandbox"], 2), "ratio": round(ratio, 3)})
            click.echo(f"{name:>36}: sandboxed {medians['sandboxed']:6.1f} s, no sandbox "
                       f"{medians['no sandbox']:6.1f} s: x{ratio:.3f}")
    atomic_write_text(out, json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
        "sandbox": probe().describe(), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
