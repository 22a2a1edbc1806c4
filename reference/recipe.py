"""The default training recipe (torch-free, so the CLI can show its defaults without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    lr: float = 0.01
    lr_decay: float = 0.7  # the learning rate of epoch e is lr * lr_decay ** (e - 1)
    momentum: float = 0.9
    weight_decay: float = 5e-4  # L2 penalty, torch.optim.SGD's weight_decay
    shift: int = 1  # augmentation: each training image moved by up to this many pixels (0 disables it)
    batch_size: int = 64
    epochs: int = 20  # an upper bound: early stopping usually ends the run first
    patience: int = 2  # stop after this many epochs without a better validation loss
    log_every: int = 50  # a CSV row with the training loss every N batches
    seed: int = 42  # the data order
    limit: int | None = None  # train on the first N training images only (quick runs)
    eval_batch_size: int = 1000


DEFAULT_RECIPE = Recipe()
