"""The training loop every backend shares: seeded batch order, CSV log, patience early stopping, resume.

A backend (torch here; NumPy and pure Python in the harness) only has to step, evaluate and save; this
loop decides the data order, so every backend sees the same batches in the same order.
"""

from __future__ import annotations

import csv
import io
import json
import math
import pickle
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from tqdm import tqdm

from lenet_parity.atomic import atomic_write_bytes, atomic_write_text
from lenet_parity.reference.recipe import Recipe

CSV_COLUMNS = ["kind", "epoch", "step", "train_loss", "val_loss", "val_acc", "epoch_seconds"]


class Backend(Protocol):
    """What the loop needs from a model and its optimiser, whatever computes them."""

    name: str

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> float: ...  # forward, backward, update; the loss

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]: ...  # (summed NLL, correct)

    def save_weights(self, path: Path, meta: dict[str, Any]) -> None: ...  # weights JSON

    def load_weights(self, path: Path) -> None: ...

    def set_lr(self, lr: float) -> None: ...

    def get_state(self) -> dict[str, Any]: ...  # params and optimiser state, for resume

    def set_state(self, state: dict[str, Any]) -> None: ...


@dataclass
class RunState:
    epoch: int = 0  # epochs completed
    step: int = 0
    best_val_loss: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped_early: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """The shuffled batches of one epoch: a function of (seed, epoch) only, so resume and backends agree."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n, generator=generator)
    return list(perm.split(batch_size))


def augment_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of one epoch's random shifts: like batch_order, a function of (seed, epoch) only."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch + 500_000)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator, fill) -> torch.Tensor:
    """Translate each image by a seeded random (dy, dx) in [-max_shift, max_shift], filling with background.

    ``fill`` is the normalised value of a blank pixel: a number, or one per channel.
    """
    if max_shift == 0:
        return x
    n, c, h, w = x.shape
    s = max_shift
    fill = torch.as_tensor(fill, dtype=x.dtype).reshape(-1, 1, 1)  # (C or 1, 1, 1)
    padded = torch.nn.functional.pad(x - fill, (s, s, s, s)) + fill  # (N, C, H + 2s, W + 2s)
    offsets = torch.randint(0, 2 * s + 1, (n, 2), generator=generator)
    out = torch.empty_like(x)
    for oy in range(2 * s + 1):  # 25 slices for s=2, whatever the batch size
        for ox in range(2 * s + 1):
            rows = ((offsets[:, 0] == oy) & (offsets[:, 1] == ox)).nonzero().flatten()
            if len(rows):
                out[rows] = padded[rows, :, oy:oy + h, ox:ox + w]
    return out


def evaluate(backend: Backend, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[float, float]:
    """(mean NLL, accuracy) over a dataset, in evaluation mode."""
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        loss_sum, n_correct = backend.evaluate(x[start:start + batch_size], y[start:start + batch_size])
        total_loss += loss_sum
        correct += n_correct
    return total_loss / len(x), correct / len(x)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def _identity(meta: dict[str, Any] | None) -> dict[str, Any]:
    """What else makes a run the same run: its initial weights (by content) and dtype, when the caller gives them."""
    return {k: (meta or {})[k] for k in ("weights_sha256", "dtype") if k in (meta or {})}


def train(backend: Backend, data: dict[str, tuple[torch.Tensor, torch.Tensor]], recipe: Recipe, run_dir: Path,
          *, resume: bool = True, meta: dict[str, Any] | None = None, progress: bool = True,
          log: Callable[[str], None] = lambda line: None,
          background=0.0) -> dict[str, Any]:
    """Train until early stopping or ``recipe.epochs``; ``run_dir`` gets log.csv, best.json, resume.pkl, summary.json.

    ``background`` is the normalised value of a blank pixel, used to fill shifted images.

    An interrupted run resumes from the last completed epoch (the CSV is cut back to match).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {k: run_dir / v for k, v in dict(csv="log.csv", best="best.json", resume="resume.pkl",
                                                summary="summary.json").items()}
    x_train, y_train = data["train"]
    if recipe.limit:
        x_train, y_train = x_train[:recipe.limit], y_train[:recipe.limit]
    state = RunState()
    if resume and paths["resume"].exists():
        with open(paths["resume"], "rb") as handle:
            saved = pickle.load(handle)
        mine = {"backend": backend.name, **{f"recipe.{k}": v for k, v in asdict(recipe).items()}, **_identity(meta)}
        theirs = {"backend": saved["backend"], **{f"recipe.{k}": v for k, v in saved["recipe"].items()},
                  **saved.get("identity", {})}
        differ = [key for key in mine if mine[key] != theirs.get(key)]
        if differ:
            raise ValueError(f"{paths['resume']} belongs to another run (its {', '.join(differ)} differ: "
                             f"{', '.join(f'{k}={theirs.get(k)!r}' for k in differ)}); use another --out folder, "
                             f"or --restart to start over")
        state = saved["state"]
        backend.set_state(saved["backend_state"])
        log(f"resuming {run_dir} after epoch {state.epoch}")
    meta = {**(meta or {}), "recipe": asdict(recipe), "backend": backend.name, "torch_version": torch.__version__}

    while state.epoch < recipe.epochs and not state.stopped_early:
        epoch = state.epoch + 1
        started = time.perf_counter()
        backend.set_lr(recipe.lr * recipe.lr_decay ** (epoch - 1))
        batches = batch_order(len(x_train), recipe.batch_size, recipe.seed, epoch)
        augment = augment_generator(recipe.seed, epoch)
        # disable=None: tqdm stays quiet when stderr is not a terminal (CI logs, nohup)
        bar = tqdm(batches, desc=f"{backend.name} epoch {epoch}", disable=None if progress else True, leave=False,
                   unit="batch")
        running, count = 0.0, 0
        for idx in bar:
            loss = backend.train_step(random_shift(x_train[idx], recipe.shift, augment, background), y_train[idx])
            if not math.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at epoch {epoch}, step {state.step + 1}")
            state.step += 1
            running, count = running + loss, count + 1
            if state.step % recipe.log_every == 0:
                state.rows.append(dict(kind="batch", epoch=epoch, step=state.step, train_loss=running / count))
                bar.set_postfix(loss=f"{running / count:.4f}")
                running, count = 0.0, 0
        seconds = time.perf_counter() - started
        train_loss = state.rows[-1]["train_loss"] if state.rows and state.rows[-1]["kind"] == "batch" else float("nan")
        val_loss, val_acc = evaluate(backend, *data["val"], recipe.eval_batch_size)
        state.rows.append(dict(kind="epoch", epoch=epoch, step=state.step, train_loss=train_loss, val_loss=val_loss,
                               val_acc=val_acc, epoch_seconds=round(seconds, 3)))
        log(f"epoch {epoch}: val loss {val_loss:.4f}, val acc {100 * val_acc:.2f}%, {seconds:.1f} s")
        if val_loss < state.best_val_loss:
            state.best_val_loss, state.best_epoch, state.bad_epochs = val_loss, epoch, 0
            backend.save_weights(paths["best"], {**meta, "epoch": epoch, "val_loss": val_loss, "val_acc": val_acc})
        else:
            state.bad_epochs += 1
            state.stopped_early = state.bad_epochs >= recipe.patience
        state.epoch = epoch
        _write_csv(paths["csv"], state.rows)
        atomic_write_bytes(paths["resume"], pickle.dumps(
            {"recipe": asdict(recipe), "backend": backend.name, "identity": _identity(meta), "state": state, "backend_state": backend.get_state()}))

    backend.load_weights(paths["best"])
    test_loss, test_acc = evaluate(backend, *data["test"], recipe.eval_batch_size)
    summary = {**meta, "epochs_run": state.epoch, "best_epoch": state.best_epoch, "stopped_early": state.stopped_early,
               "best_val_loss": state.best_val_loss, "test_loss": test_loss, "test_acc": test_acc,
               "train_seconds": sum(r.get("epoch_seconds") or 0 for r in state.rows if r["kind"] == "epoch")}
    atomic_write_text(paths["summary"], json.dumps(summary, indent=2) + "\n")
    log(f"best epoch {state.best_epoch}: test accuracy {100 * test_acc:.2f}% (test loss {test_loss:.4f})")
    return summary
