"""``lenet-parity follow``: a custom LeNet and torch's LeNet trained in lockstep, the loss difference at every step.

Both start from the same weights JSON and go through the shared training loop (reference/training.py) as ONE
backend that steps both, so they see the very same batches, augmentation and learning-rate schedule. Writes
``follow.csv`` (one row per step) and ``follow.png`` (the per-step difference on a log scale).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lenet_parity.atomic import atomic_write_text
from lenet_parity.vocabulary import DEFAULT_DATA_ROOT, DEFAULT_RUNS, DEFAULT_WEIGHTS

# The bound for float64 over a full epoch. float32 gets none: its trajectories agree to an ulp or two
# until a max-pool window holds two values within an ulp (or a ReLU input sits at ~0) and torch and NumPy,
# rounding differently, send that gradient down different paths; from there the runs part ways chaotically.
DEFAULT_ATOL = {"float64": 1e-6, "float32": None}

FOLLOW_COLUMNS = ["epoch", "step", "torch_loss", "custom_loss", "abs_diff", "max_param_diff"]


class LockstepBackend:
    """One training Backend that drives two: every step and evaluation runs on both, the custom one is reported."""

    def __init__(self, reference, custom):
        self.reference, self.custom = reference, custom
        self.name = f"{custom.name}+{reference.name}"
        self.rows: list[dict[str, Any]] = []
        self.epoch = 1

    def param_diff(self) -> float:
        """The largest |torch param - custom param| over every parameter and buffer."""
        state = self.reference.model.state_dict()
        ours = self.custom.model.state_dict()
        return max(float(np.max(np.abs(t.detach().numpy().astype(np.float64) - np.asarray(ours[n], np.float64))))
                   for n, t in state.items() if not n.endswith("num_batches_tracked"))

    def train_step(self, x, y) -> float:
        loss_ref = self.reference.train_step(x, y)
        loss = self.custom.train_step(x, y)
        self.rows.append(dict(epoch=self.epoch, step=len(self.rows) + 1, torch_loss=loss_ref, custom_loss=loss,
                              abs_diff=abs(loss - loss_ref), max_param_diff=self.param_diff()))
        return loss

    def evaluate(self, x, y) -> tuple[float, int]:
        return self.custom.evaluate(x, y)  # the loop's validation and early stopping follow the custom model

    def set_lr(self, lr: float) -> None:
        if self.rows:  # the loop sets the rate at the start of every epoch
            self.epoch = self.rows[-1]["epoch"] + 1
        self.reference.set_lr(lr)
        self.custom.set_lr(lr)

    @staticmethod
    def reference_path(path: Path) -> Path:
        return path.with_name(path.stem + "_torch" + path.suffix)  # best.json -> best_torch.json

    def save_weights(self, path: Path, meta: dict[str, Any]) -> None:
        self.custom.save_weights(path, meta)
        self.reference.save_weights(self.reference_path(path), meta)

    def load_weights(self, path: Path) -> None:
        self.custom.load_weights(path)
        self.reference.load_weights(self.reference_path(path))

    def get_state(self) -> dict[str, Any]:
        return {"reference": self.reference.get_state(), "custom": self.custom.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.reference.set_state(state["reference"])
        self.custom.set_state(state["custom"])


@dataclass
class FollowResult:
    backend: str
    dtype: str
    steps: int
    max_abs_diff: float
    worst_step: int
    worst_epoch: int
    final_param_diff: float
    atol: float | None  # None: no bound is checked (float32 runs part ways, see DEFAULT_ATOL)
    growth: list[tuple[int, float, float]] = field(default_factory=list)  # (up to step, max loss diff, param diff)
    test_acc: dict[str, float] = field(default_factory=dict)
    csv_path: Path | None = None
    png_path: Path | None = None

    @property
    def passed(self) -> bool:
        return self.atol is None or self.max_abs_diff <= self.atol

    def report(self) -> str:
        lines = [f"{self.backend} {self.dtype} vs torch {self.dtype}: {self.steps} steps in lockstep",
                 "  steps      max |loss diff|   max |param diff| at the end"]
        lines += [f"  <= {s:<7d} {d:<17.3e} {p:.3e}" for s, d, p in self.growth]
        allowed = "no bound checked in float32" if self.atol is None else f"allowed {self.atol:g}"
        lines.append(f"  largest loss difference {self.max_abs_diff:.3e} at step {self.worst_step} "
                     f"(epoch {self.worst_epoch}); {allowed}")
        if self.test_acc:
            lines.append("  test accuracy: " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in self.test_acc.items()))
        if self.atol is not None:
            verdict, sign = ("OK  ", "<=") if self.passed else ("FAIL", ">")
            lines.append(f"{verdict} the {self.backend} LeNet follows torch: largest loss difference "
                         f"{self.max_abs_diff:.3e} {sign} {self.atol:g}")
        return "\n".join(lines)


def growth_table(rows: list[dict[str, Any]]) -> list[tuple[int, float, float]]:
    """Max loss difference so far and the param difference at steps 1, 2, 5, 10, 20, 50, ... and the last."""
    marks, m = [], 1
    while m < len(rows):
        marks += [s for s in (m, 2 * m, 5 * m) if s < len(rows)]
        m *= 10
    marks.append(len(rows))
    diffs = np.maximum.accumulate([r["abs_diff"] for r in rows])
    return [(s, float(diffs[s - 1]), rows[s - 1]["max_param_diff"]) for s in marks]


def write_follow_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FOLLOW_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})  # full precision
    atomic_write_text(path, buffer.getvalue())


def read_follow_csv(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="") as handle:
        return [dict(epoch=int(r["epoch"]), step=int(r["step"]), torch_loss=float(r["torch_loss"]),
                     custom_loss=float(r["custom_loss"]), abs_diff=float(r["abs_diff"]),
                     max_param_diff=float(r["max_param_diff"])) for r in csv.DictReader(handle)]


def plot_follow(path: Path, rows: list[dict[str, Any]], title: str, atol: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    loss_diff = np.array([r["abs_diff"] for r in rows])
    param_diff = np.array([r["max_param_diff"] for r in rows])
    positive = np.concatenate([loss_diff[loss_diff > 0], param_diff[param_diff > 0]])
    floor = positive.min() / 10 if positive.size else 1e-18  # exact agreement (0) drawn here: no log of 0
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.semilogy(steps, np.maximum(loss_diff, floor), ".", ms=2, label=f"|loss difference| (0 drawn at {floor:.0e})")
    ax.semilogy(steps, np.maximum.accumulate(np.maximum(loss_diff, floor)), "-", lw=1, label="running max |loss difference|")
    ax.semilogy(steps, np.maximum(param_diff, floor), "-", lw=1, label="max |param difference|")
    if atol is not None:
        ax.axhline(atol, color="red", lw=0.8, ls="--", label=f"allowed loss difference {atol:g}")
    for epoch_end in [r["step"] for a, r in zip(rows, rows[1:]) if r["epoch"] != a["epoch"]]:
        ax.axvline(epoch_end, color="grey", lw=0.5)
    ax.set_xlabel("step")
    ax.set_ylabel("absolute difference")
    ax.set_title(title)
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def follow(*, backend: str = "numpy", dtype: str = "float64", epochs: int = 1, weights_path: Path = DEFAULT_WEIGHTS,
           data_root: Path = DEFAULT_DATA_ROOT, dataset: str = "mnist", out: Path = DEFAULT_RUNS / "follow", recipe=None,
           atol: float | None = None, eval_limit: int | None = None, progress: bool = True) -> FollowResult:
    """Train ``backend`` and torch in lockstep for ``epochs`` epochs of ``recipe`` (default: the default Recipe).

    ``out`` gets follow.csv, follow.png and the shared loop's files (log.csv, best.json, summary.json).
    ``eval_limit`` evaluates on the first N validation and test images only (the python backend is slow).
    ``atol`` bounds the largest loss difference (default DEFAULT_ATOL[dtype]).
    """
    import dataclasses

    import torch

    from lenet_parity.custom_lenet.training import make_backend
    from lenet_parity.reference.datasets import load_splits
    from lenet_parity.reference.determinism import seed_everything
    from lenet_parity.reference.training import Recipe, evaluate, train

    atol = DEFAULT_ATOL[dtype] if atol is None else atol
    recipe = dataclasses.replace(recipe or Recipe(), epochs=epochs, patience=epochs + 1)
    seed_everything(recipe.seed)
    splits = load_splits(dataset, data_root)
    to = getattr(torch, dtype)
    data = {k: (getattr(splits, k).tensors[0].to(to), getattr(splits, k).tensors[1]) for k in ("train", "val", "test")}
    if eval_limit is not None:
        data.update({k: (x[:eval_limit], y[:eval_limit]) for k, (x, y) in data.items() if k != "train"})
    reference, _ = make_backend("torch", weights_path, recipe, dtype=dtype)
    custom, _ = make_backend(backend, weights_path, recipe, dtype=dtype)
    lockstep = LockstepBackend(reference, custom)
    background = [-m / s for m, s in zip(splits.mean, splits.std)]
    train(lockstep, data, recipe, out, resume=False, progress=progress, background=background,
          meta={"follow": True, "dtype": dtype, "weights": str(weights_path)})
    rows = lockstep.rows
    worst = max(rows, key=lambda r: r["abs_diff"])
    out.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out / "follow.csv", out / "follow.png"
    write_follow_csv(csv_path, rows)
    title = f"{backend} {dtype} vs torch {dtype}: per-step loss difference ({len(rows)} steps)"
    plot_follow(png_path, rows, title, atol)
    # after the loop each model holds its own best checkpoint (the same epoch, chosen by the custom val loss)
    test_acc = {"torch": evaluate(reference, *data["test"], recipe.eval_batch_size)[1],
                backend: evaluate(custom, *data["test"], recipe.eval_batch_size)[1]}
    return FollowResult(backend=backend, dtype=dtype, steps=len(rows), max_abs_diff=worst["abs_diff"],
                        worst_step=worst["step"], worst_epoch=worst["epoch"], final_param_diff=rows[-1]["max_param_diff"],
                        atol=atol, growth=growth_table(rows), test_acc=test_acc, csv_path=csv_path, png_path=png_path)
