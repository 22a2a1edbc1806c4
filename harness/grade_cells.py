"""One layer type's cell and reason in the gradebook, from its CheckRun's rows (never parsed from a message).

A run cut by --timeout is its own cell, ``timeout``: the rows whose error was decided after the worker's kill
(``CheckResult.decided_at`` >= ``Worker.timed_out``) are checks not run; the rows that finished tell a slow but
right layer from one that was already wrong.
"""

from __future__ import annotations

from typing import Any

from lenet_parity.harness.results import CheckResult, CheckRun


def cut_by_timeout(run: CheckRun, worker: Any) -> list[CheckResult]:
    """The rows the worker's --timeout kill left not run: failed with an error decided at or after the kill."""
    if worker.timed_out is None:
        return []
    killed_at = worker.timed_out[0]
    return [r for r in run.results if r.error is not None and r.decided_at >= killed_at]


def judge(run: CheckRun, worker: Any) -> tuple[str, str | None, int]:
    """(cell, reason or None, checks not run) of a layer type checked in ``worker`` (an isolation.Worker)."""
    cut = cut_by_timeout(run, worker)
    if cut:
        return "timeout", timeout_reason(run, cut, worker), len(cut)
    if not run.passed:
        return "fail", reason_of(run), 0
    statuses = {r.status for r in run.results}
    if statuses == {"unsupported"}:
        return "unsupported", None, 0
    if "warning" in statuses:
        return "pass*", warnings_of(run), 0
    return "pass", None, 0


def timeout_reason(run: CheckRun, cut: list[CheckResult], worker: Any) -> str:
    """Which call hit the limit, how long the slowest answered call took, and whether what finished was right."""
    cut_ids = {id(r) for r in cut}
    finished = CheckRun([r for r in run.results if id(r) not in cut_ids])
    seconds, slowest = worker.slowest
    took = (f"the slowest call that answered took {seconds:.2f} s ({slowest})" if seconds
            else "no call answered in time")
    head = (f"timed out: a call ({worker.timed_out[1]}) took longer than the {worker.timeout:g} s limit (--timeout) "
            f"and was killed; {took}")
    if finished.failures:
        verdict = f"wrong before it timed out: {reason_of(finished)}"
    elif finished.results:
        verdict = f"slow but right so far: the {len(finished.results)} checks that finished were right"
    else:
        verdict = "no check finished, so nothing tells whether it is right"
    return f"{head}; {verdict}; {len(cut)} of {len(run.results)} checks not run"


def reason_of(run: CheckRun) -> str:
    """A failed run's reason, from its rows: the first failure; its likely cause; the end of what it printed."""
    first = run.first_failure
    if first is None:
        return "no check ran"
    likely = first.likely()
    printed = f"; it printed {run.printed_bytes:,} bytes, ending: {run.printed.splitlines()[-1][:120]!r}" \
        if run.printed_bytes and run.printed.strip() else ""
    return f"first failure: {first.describe()}; likely cause: {likely.hint} [{likely.code}]{printed}"


def warnings_of(run: CheckRun) -> str:
    """A passed run's warnings in one reason: each deviation once."""
    seen = dict.fromkeys(f"{r.checked_layer}.{r.tensor}: {r.warning}" for r in run.warnings)
    return f"passed with {len(run.warnings)} warnings: " + "; ".join(seen)
