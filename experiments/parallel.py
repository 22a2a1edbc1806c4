"""Run a list of RunSpecs in parallel processes; skip finished runs, resume interrupted ones, keep a results table.

A run is finished when its summary.json exists: it is never trained again. An interrupted run resumes from
its last completed epoch (the shared loop's resume.pkl). The table (CSV and JSON) is rewritten atomically
after every run that finishes, so it always matches what is on disk.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lenet_parity.atomic import atomic_write_text
from lenet_parity.experiments.runs import RunSpec, check_spec, collect_row, execute_run, is_done

MAX_WORKERS = 2  # the machine has two cores; each worker trains with one thread


class SweepError(RuntimeError):
    """Some runs failed; the others finished and are in the table."""


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]  # one per finished run, in spec order
    executed: list[str] = field(default_factory=list)  # runs handed to a worker this time
    skipped: list[str] = field(default_factory=list)  # runs already finished before this call
    failed: dict[str, str] = field(default_factory=dict)  # name -> error


def write_table(rows: list[dict[str, Any]], stem: Path) -> None:
    """stem.csv and stem.json, each written atomically."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(stem.with_suffix(".csv"), buffer.getvalue())
    atomic_write_text(stem.with_suffix(".json"), json.dumps(rows, indent=1, allow_nan=False) + "\n")


def run_sweep(specs: list[RunSpec], table: Path, *, workers: int = MAX_WORKERS,
              execute: Callable[[RunSpec], str] = execute_run, log: Callable[[str], None] | None = None) -> SweepResult:
    """Run every unfinished spec; workers=0 runs them one after another in this process (tests, debugging).

    Workers are spawned, so a script that calls this must guard its top level with ``if __name__ == "__main__":``.
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError("two runs share a folder name")
    log = log or (lambda message: None)
    for spec in specs:
        check_spec(spec)
    todo = [s for s in specs if not is_done(s)]
    result = SweepResult(rows=[], skipped=[s.name for s in specs if is_done(s)])
    if result.skipped:
        log(f"{len(result.skipped)} of {len(specs)} runs already finished; {len(todo)} to run")

    def refresh():
        result.rows = [collect_row(s) for s in specs if is_done(s)]
        write_table(result.rows, table)

    def finished(spec: RunSpec, error: BaseException | None, started: float) -> None:
        if error is not None:
            result.failed[spec.name] = f"{type(error).__name__}: {error}"
            log(f"FAILED {spec.name}: {result.failed[spec.name]} (see {spec.path / 'stdout.log'})")
            return
        refresh()
        row = next(r for r in result.rows if r["name"] == spec.name)
        log(f"[{len(result.executed)}/{len(todo)}] {spec.name}: test acc {100 * row['test_acc']:.2f}%, "
            f"val loss {row['val_loss']:.4f}, {row['epochs_run']} epochs, {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    if workers == 0 or not todo:
        for spec in todo:
            result.executed.append(spec.name)
            try:
                execute(spec)
                finished(spec, None, started)
            except Exception as error:  # one bad run must not lose the others
                finished(spec, error, started)
    else:
        # spawn: a clean interpreter per worker, no forked torch thread pools or locks
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context) as pool:
            futures = {pool.submit(execute, spec): spec for spec in todo}
            for future in as_completed(futures):
                spec = futures[future]
                result.executed.append(spec.name)
                finished(spec, future.exception(), started)
    refresh()
    if result.failed:
        by_error: dict[str, list[str]] = {}
        for name, error in result.failed.items():
            by_error.setdefault(error, []).append(name)
        reasons = "; ".join(f"{error} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                            for error, names in by_error.items())
        raise SweepError(f"{len(result.failed)} of {len(specs)} runs failed: {reasons}; the finished ones are kept: "
                         f"run the same command again to retry")
    return result
