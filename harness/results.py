"""Check results: one record per (layer, tensor, mode, dtype), and the run that collects them in order."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from lenet_parity.harness.compare import Comparison
from lenet_parity.harness.diagnosis import UNKNOWN, Diagnosis, from_failure
from lenet_parity.versions import versions
from lenet_parity.vocabulary import TORCH_SCOPE

ABSENT_CLASS = "class"  # the "tensor" of a row saying a whole file lacks the class a layer needs (no comparison)


@dataclass
class CheckResult:
    layer: str  # the model's submodule name: conv1, pool2, fc3, loss, ...
    tensor: str  # output, grad_input, grad_weight, grad_bias, loss, running_mean, running_var
    mode: str  # snapshot, hybrid, sweep, train
    dtype: str  # float32 or float64
    comparison: Comparison | None = None
    error: str | None = None  # the layer crashed, lacks a method, returned a wrong type: the reason
    case: str = ""  # what was run, e.g. a sweep configuration or a training step
    unsupported: str | None = None  # the layer declines this configuration (--scope lenet): why; not a failure
    origin: str = ""  # for a configuration reported under its own label: the LeNet layer whose class it built
    finding: str | None = None  # a check without numbers (the state mode's) that failed: what it found
    plain_pass: bool = False  # such a check that passed
    warning: str | None = None  # a finding that changes no value (harness/warnings_policy.py): it passes, listed
    diagnosis: Diagnosis | None = None  # set by the check that had the values to test hypotheses on
    noise_floor: float | None = None  # max |torch float32 - torch float64| for this tensor, where the check knows it
    source: Any = None  # (LayerSpec, Case) the row was checked on, where the check had one: for --repro
    decided_at: float = field(default_factory=time.monotonic, repr=False, compare=False)  # when the row was made:
    # an error decided after its worker's --timeout kill (isolation.Worker.timed_out) is a check not run

    @property
    def noise_multiple(self) -> float | None:
        """The error as a multiple of the float32 noise floor: ~1 is rounding, 1e5 is a bug."""
        c = self.comparison
        if c is None or self.noise_floor is None or c.reason not in ("values", None) or not self.noise_floor > 0:
            return None
        return c.max_abs_err / self.noise_floor

    @property
    def passed(self) -> bool:
        if self.error is not None or self.finding is not None:
            return False
        return (self.plain_pass or self.warning is not None or self.unsupported is not None
                or (self.comparison is not None and self.comparison.passed))

    @property
    def status(self) -> str:
        """passed, failed, or unsupported (a configuration the layer declines, allowed under --scope lenet)."""
        if self.error is None and self.unsupported is not None:
            return "unsupported"
        if self.error is None and self.warning is not None:
            return "warning"
        return "passed" if self.passed else "failed"

    def decline(self, why: str, scope: str) -> CheckResult:
        """A configuration beyond LeNet that the layer (or a program) does not do: unsupported under --scope lenet,
        a failure under --scope torch, which asks for torch's generality."""
        if scope == TORCH_SCOPE:
            self.error = f"unsupported under --scope torch: {why}"
        else:
            self.unsupported = why
        return self

    def likely(self) -> Diagnosis | None:
        """What the layer most likely does wrong (None when it passed)."""
        if self.passed:
            return None
        c = self.comparison
        return self.diagnosis or from_failure(self.tensor, finding=self.finding, error=self.error,
                                              reason=c.reason if c else None,
                                              dtypes=(c.dtype_actual, c.dtype_expected) if c else ("", "")) or UNKNOWN

    def cause(self) -> Diagnosis | None:
        """The likely cause worth a line of its own: None when the row passed, or when its own words already say
        what happened (a crash, not run, unsupported, a state check's finding)."""
        likely = self.likely()
        if likely is None or likely.code in ("crash", "not-run", "unsupported") or self.finding is not None:
            return None
        return likely

    @property
    def checked_layer(self) -> str:
        """The LeNet layer this row checks the class of (conv1 for a ``Conv2d(kernel_size=3, stride=2)`` row)."""
        return self.origin or self.layer

    @property
    def atol(self) -> float | None:
        return self.comparison.atol if self.comparison else None

    @property
    def rtol(self) -> float | None:
        return self.comparison.rtol if self.comparison else None

    def to_json(self) -> dict[str, Any]:
        c = self.comparison

        def num(value):
            return value if value is None or math.isfinite(value) else str(value)

        return {
            "layer": self.layer, "tensor": self.tensor, "mode": self.mode, "dtype": self.dtype, "case": self.case,
            "origin": self.checked_layer, "status": self.status, "passed": self.passed, "error": self.error,
            "unsupported": self.unsupported,
            "reason": c.reason if c else "finding" if self.finding else {"unsupported": "unsupported", "passed": "ok",
                                                                          "warning": "warning"}.get(self.status, "error"),
            "finding": self.finding, "warning": self.warning,
            "diagnosis": self.likely().to_json() if not self.passed else None,
            "noise_floor": num(self.noise_floor) if self.noise_floor is not None else None,
            "error_vs_noise_floor": num(self.noise_multiple) if self.noise_multiple is not None else None,
            "max_abs_err": num(c.max_abs_err) if c else None, "max_rel_err": num(c.max_rel_err) if c else None,
            "mismatched": c.mismatched if c else None, "numel": c.numel if c else None,
            "worst_index": list(c.worst_index) if c and c.worst_index is not None else None,
            "actual_at_worst": num(c.actual_at_worst) if c and c.actual_at_worst is not None else None,
            "expected_at_worst": num(c.expected_at_worst) if c and c.expected_at_worst is not None else None,
            "atol": self.atol, "rtol": self.rtol,
            "min_atol_to_pass": num(c.min_atol_to_pass) if c else None,
        }

    def report(self) -> str:
        """The row in full, whatever it holds: a failed comparison in assert_close's words and the likely cause;
        a row without numbers (a state check, a crash, an unsupported configuration) is its one line."""
        c = self.comparison
        lines = [c.report() if c is not None and self.error is None and not c.passed else self.describe()]
        if (cause := self.cause()) is not None:
            lines.append(f"likely cause: {cause.hint} [{cause.code}]")
        return "\n".join(lines)

    def describe(self) -> str:
        """One line naming the layer, tensor and what went wrong (or, for a row that passed, what held)."""
        where = f"{self.layer}.{self.tensor} [{self.mode}, {self.dtype}{', ' + self.case if self.case else ''}]"
        c = self.comparison
        if self.status == "unsupported":
            return f"{where}: unsupported: {self.unsupported}"
        if self.finding is not None:
            return f"{where}: {self.finding}"
        if self.status == "warning":
            return f"{where}: warning: {self.warning}"
        if self.error or c is None:  # a crash, or a check without numbers (the state mode's) that held
            return f"{where}: {self.error or ('held' if self.plain_pass else 'not checked')}"
        if c.reason == "shape":
            return f"{where}: shape {c.shape_actual} != expected {c.shape_expected}"
        if c.reason == "dtype":
            return f"{where}: dtype {c.dtype_actual} != expected {c.dtype_expected}"
        nonfinite = " (NaN or Inf where torch is finite)" if c.reason == "nonfinite" else ""
        return (f"{where}: {c.mismatched}/{c.numel} mismatched{nonfinite}, max abs {c.max_abs_err:.3g} "
                f"(atol {c.atol:g}), max rel {c.max_rel_err:.3g} (rtol {c.rtol:g})")


@dataclass
class CheckRun:
    """Results in the order they were checked (forward, then backward), so the first failure is the first divergence."""

    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was not checked and why (a skipped mode, a configuration)
    layers: list[str] = field(default_factory=list)  # the layers checked, where the caller knows them: the train
    # mode's rows are all about the whole model (the loss, the params), yet each swapped-in layer was checked
    printed: str = ""  # what the layer under test printed (its worker's stdout and stderr, first and last parts)
    printed_bytes: int = 0  # how much it printed in all
    sandbox: str | None = None  # where the layer under test ran: "bubblewrap (...)" or "not sandboxed: why"

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def add(self, result: CheckResult) -> CheckResult:
        self.results.append(result)
        return result

    def extend(self, results) -> None:
        self.results.extend(results)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    @property
    def unsupported(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "unsupported"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "warning"]

    def counts(self) -> dict[str, int]:
        """How many results are passed (warnings included), failed, unsupported, and of the passed, warnings."""
        statuses = [r.status for r in self.results]
        return {"passed": statuses.count("passed") + statuses.count("warning"), "failed": statuses.count("failed"),
                "unsupported": statuses.count("unsupported"), "warnings": statuses.count("warning")}

    @property
    def first_failure(self) -> CheckResult | None:
        """The first value mismatch when there is one (in checking order: the first divergence), else the first
        failure of another kind (a crash, a state finding)."""
        failures = self.failures
        mismatch = next((r for r in failures if r.error is None and r.comparison is not None), None)
        return mismatch or (failures[0] if failures else None)

    def to_dict(self) -> dict[str, Any]:
        """The --json document."""
        return self.to_json()

    def __str__(self) -> str:
        """The terminal report in plain text."""
        from lenet_parity.harness.ansi import unstyle
        from lenet_parity.harness.report import terminal_report

        return unstyle(terminal_report(self))

    def failure_message(self) -> str:
        """What an assertion says: the first failure, its numbers and likely cause, and how many more failed."""
        first = self.first_failure
        if first is None:
            return "no check ran" if not self.results else "every check passed"
        lines = [f"first failure: {first.describe()}"]
        c = first.comparison
        if c is not None and c.reason in ("values", "nonfinite"):
            lines.append(f"worst at {c.worst_index}: got {c.actual_at_worst!r}, expected {c.expected_at_worst!r}")
        likely = first.likely()
        lines.append(f"likely cause: {likely.hint} [{likely.code}]")
        counts = self.counts()
        lines.append(f"{counts['failed']} of {len(self.results)} checks failed")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """A notebook's view: the plain report, the verdict in colour."""
        import html

        colour = "#1a7f37" if self.passed else "#cf222e"
        return (f'<div style="font-weight:bold;color:{colour}">{"PASS" if self.passed else "FAIL"}</div>'
                f"<pre>{html.escape(str(self))}</pre>")

    def to_json(self) -> dict[str, Any]:
        first = self.first_failure
        return {
            "versions": versions(),
            "passed": self.passed,
            "counts": self.counts(),
            "first_failure": {"layer": first.layer, "tensor": first.tensor, "mode": first.mode, "dtype": first.dtype,
                              "diagnosis": first.likely().to_json()} if first else None,
            "results": [r.to_json() for r in self.results],
            "notes": list(self.notes),
            "warnings": [{"layer": r.layer, "tensor": r.tensor, "mode": r.mode, "dtype": r.dtype,
                          "warning": r.warning} for r in self.warnings],
            "printed": {"bytes": self.printed_bytes, "text": self.printed} if self.printed_bytes else None,
            "sandbox": self.sandbox,
        }

    def keep_output(self, output) -> None:
        """What the layer printed (an OutputCapture: a capped copy and the total), for the report."""
        self.printed, self.printed_bytes = output.text(), output.total
