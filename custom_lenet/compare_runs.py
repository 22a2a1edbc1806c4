"""``lenet-parity compare-runs A.csv B.csv``: two training logs side by side, and where they differ most.

Reads the shared loop's log.csv (reference/training.py: kind, epoch, step, train_loss, val_loss, val_acc,
epoch_seconds), aligns the rows by (kind, step), prints a table and optionally plots both loss curves and
their difference (matplotlib, Agg backend) to a PNG.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lenet_parity.errors import UserInputError

REQUIRED = ("kind", "epoch", "step", "train_loss")


@dataclass
class AlignedRow:
    kind: str  # "batch" (a running training loss) or "epoch" (the validation figures)
    epoch: int
    step: int
    a: float  # train_loss for batch rows, val_loss for epoch rows
    b: float
    acc_a: float | None = None  # val_acc, epoch rows only
    acc_b: float | None = None

    @property
    def diff(self) -> float:
        return abs(self.a - self.b)


@dataclass
class RunComparison:
    path_a: Path
    path_b: Path
    rows: list[AlignedRow]
    only_a: int  # rows of A without a partner in B (one run stopped earlier, or another log_every)
    only_b: int
    png: Path | None = None
    notes: list[str] = field(default_factory=list)

    def _largest(self, kind: str) -> AlignedRow | None:
        rows = [r for r in self.rows if r.kind == kind]
        return max(rows, key=lambda r: r.diff) if rows else None

    @property
    def largest_train(self) -> AlignedRow | None:
        """The batch row with the largest training-loss difference."""
        return self._largest("batch")

    @property
    def largest_val(self) -> AlignedRow | None:
        """The epoch row with the largest validation-loss difference."""
        return self._largest("epoch")

    @property
    def largest_diff(self) -> float:
        return max(r.diff for r in self.rows)

    def within(self, max_diff: float) -> bool:
        """Whether every aligned loss (training and validation) differs by at most ``max_diff``."""
        return self.largest_diff <= max_diff

    def table(self) -> str:
        lines = [f"{'kind':<6}{'epoch':>6}{'step':>8}  {'A':>12}{'B':>12}{'|A - B|':>12}  {'acc A':>8}{'acc B':>8}"]
        for r in self.rows:
            acc = (f"  {100 * r.acc_a:7.2f}%{100 * r.acc_b:7.2f}%"
                   if r.acc_a is not None and r.acc_b is not None else "")
            lines.append(f"{r.kind:<6}{r.epoch:>6}{r.step:>8}  {r.a:12.6f}{r.b:12.6f}{r.diff:12.3e}{acc}")
        return "\n".join(lines)

    def report(self, *, table: bool = True) -> str:
        lines = [f"A: {self.path_a}", f"B: {self.path_b}",
                 f"{len(self.rows)} aligned rows (batch rows: train loss; epoch rows: val loss)"]
        if table:
            lines.append(self.table())
        for label, r in (("training loss", self.largest_train), ("validation loss", self.largest_val)):
            if r is not None:
                lines.append(f"largest {label} difference: {r.diff:.3e} at step {r.step} (epoch {r.epoch}): "
                             f"A {r.a:.6g}, B {r.b:.6g}")
        if self.only_a or self.only_b:
            lines.append(f"unmatched rows: {self.only_a} only in A, {self.only_b} only in B")
        lines += self.notes
        if self.png is not None:
            lines.append(f"wrote {self.png}")
        return "\n".join(lines)


def _float(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a training log.csv; a missing file or column is a one-line UserInputError."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: training log not found (lenet-parity train writes RUN/log.csv)")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise UserInputError(f"{path}: not a training log (missing columns {missing}; "
                                 f"expected the log.csv that lenet-parity train writes)")
        try:
            return [dict(kind=r["kind"], epoch=int(r["epoch"]), step=int(r["step"]),
                         train_loss=_float(r["train_loss"]), val_loss=_float(r.get("val_loss")),
                         val_acc=_float(r.get("val_acc"))) for r in reader]
        except ValueError as exc:
            raise UserInputError(f"{path}: malformed row ({exc})") from None


def compare_runs(a: str | os.PathLike, b: str | os.PathLike, *, out: str | os.PathLike | None = None) -> RunComparison:
    """Align two training logs by (kind, step); ``out`` (a .png path) gets the plot."""
    rows_a, rows_b = read_log(a), read_log(b)

    def value(r: dict[str, Any]) -> float | None:
        return r["train_loss"] if r["kind"] == "batch" else r["val_loss"]

    index_b = {(r["kind"], r["step"]): r for r in rows_b}
    keys_a = {(r["kind"], r["step"]) for r in rows_a}
    aligned = []
    for ra in rows_a:
        rb = index_b.get((ra["kind"], ra["step"]))
        if rb is None or value(ra) is None or value(rb) is None or math.isnan(value(ra)) or math.isnan(value(rb)):
            continue
        aligned.append(AlignedRow(ra["kind"], ra["epoch"], ra["step"], value(ra), value(rb),
                                  ra["val_acc"] if ra["kind"] == "epoch" else None,
                                  rb["val_acc"] if rb["kind"] == "epoch" else None))
    if not aligned:
        raise UserInputError(f"{a} and {b} share no (kind, step) rows: were they logged with the same "
                             f"--batch-size, --limit and --log-every?")
    result = RunComparison(Path(a), Path(b), aligned, only_a=len(keys_a) - len(aligned),
                           only_b=len(index_b) - len(aligned))
    if out is not None:
        result.png = Path(out)
        plot_runs(result)
    return result


def plot_runs(result: RunComparison) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batch = [r for r in result.rows if r.kind == "batch"]
    epoch = [r for r in result.rows if r.kind == "epoch"]
    positive = [r.diff for r in result.rows if r.diff > 0]
    floor = min(positive) / 10 if positive else 1e-18  # equal values (0) are drawn here: a log axis has no 0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    for rows, style, what in ((batch, "-", "train"), (epoch, "o--", "val")):
        if rows:
            top.semilogy([r.step for r in rows], [r.a for r in rows], style, lw=1, label=f"A {what}: {result.path_a}")
            top.semilogy([r.step for r in rows], [r.b for r in rows], style, lw=1, label=f"B {what}: {result.path_b}")
            bottom.semilogy([r.step for r in rows], [max(r.diff, floor) for r in rows], style, lw=1, label=what)
    worst = result.largest_train or result.largest_val
    if worst is not None:
        bottom.axvline(worst.step, color="red", lw=0.8)
        bottom.annotate(f"largest {worst.diff:.2e} (step {worst.step})", (worst.step, max(worst.diff, floor)),
                        textcoords="offset points", xytext=(5, 5), fontsize=8, color="red")
    top.set_ylabel("loss (log scale)")
    top.set_title("loss trajectories")
    top.legend(fontsize=7)
    zeros = any(r.diff == 0 for r in result.rows)
    bottom.set_ylabel(f"|A - B| (0 drawn at {floor:.0e})" if zeros else "|A - B|")
    bottom.set_xlabel("step")
    bottom.legend(fontsize=7)
    fig.tight_layout()
    result.png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(result.png, dpi=120)
    plt.close(fig)
