"""Run a list of RunSpecs in parallel (local processes or Ray tasks); skip finished runs, resume interrupted ones, keep a results table.

A run is finished when its summary.json exists: it is never trained again. An interrupted run resumes from
its last completed epoch (the shared loop's resume.pkl). The table (CSV and JSON) is rewritten atomically
after every run that finishes, so it always matches what is on disk.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from lenet_parity.atomic import atomic_write_text
from lenet_parity.executors import Executor
from lenet_parity.experiments.runs import RunSpec, check_spec, collect_row, execute_run, is_done

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


def run_sweep(specs: list[RunSpec], table: Path, *, executor: Executor = Executor(),
              execute: Callable[[RunSpec], str] = execute_run, log: Callable[[str], None] | None = None) -> SweepResult:
    """Run every unfinished spec on ``executor`` (``Executor(workers=0)``: one after another in this process).

    Local workers are spawned, so a script that calls this must guard its top level with
    ``if __name__ == "__main__":``. With Ray, every worker writes its run folder itself: on a cluster, the sweep
    folder must be on a file system every node sees.
    """
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
    # absolute data paths: a Ray worker does not start in this directory
    todo = [replace(s, data_root=str(Path(s.data_root).resolve())) for s in todo]
    for spec, _, error in executor.run(execute, todo):
        result.executed.append(spec.name)
        finished(spec, error, started)
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
