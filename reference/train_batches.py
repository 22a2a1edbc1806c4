"""The train mode's MNIST batches, shipped as a sealed golden file so the checks need no data folder.

The training loop's seeded order (training.batch_order: one permutation of the 60,000 training images per
epoch, split into batches) makes the first ``steps`` batches of size B the first ``steps * B`` images of epoch 1's
permutation, whatever B is. The file holds those images (raw uint8, as MNIST stores them) and labels for the
first SHIPPED_IMAGES positions: every (steps, batch size) with steps * B <= SHIPPED_IMAGES, for the shipped seed.
Written by ``make phase0``; anything beyond it reads MNIST from the data folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from lenet_parity.errors import UserInputError
from lenet_parity.golden import decode_tensor, encode_tensor, read_document, write_document
from lenet_parity.reference.training import batch_order

TRAIN_BATCHES_KIND = "lenet-parity/train-batches"
TRAIN_BATCHES_VERSION = 1
REGENERATE = "make phase0"
SHIPPED_SEED = 42  # the train mode's default seed (the training loop's)
SHIPPED_IMAGES = 1280  # 20 steps (check's default) at batch 64 (training's batch), so 32 and 8 too
MNIST_TRAIN_IMAGES = 60_000


@dataclass(frozen=True)
class ShippedBatches:
    seed: int
    indices: torch.Tensor  # (K,) int64: positions in MNIST's training split, epoch 1's order
    images: torch.Tensor  # (K, 1, 28, 28) uint8
    labels: torch.Tensor  # (K,) int64

    def covers(self, steps: int, batch_size: int, seed: int) -> bool:
        return seed == self.seed and steps * batch_size <= len(self.indices)

    def batches(self, steps: int, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The first ``steps`` batches as uint8 images and labels: [(images (B, 1, 28, 28), labels (B,))]."""
        return [(self.images[k * batch_size:(k + 1) * batch_size], self.labels[k * batch_size:(k + 1) * batch_size])
                for k in range(steps)]


def epoch1_positions(seed: int, count: int) -> torch.Tensor:
    """The first ``count`` image indices of epoch 1's seeded order (independent of the batch size)."""
    return batch_order(MNIST_TRAIN_IMAGES, count, seed, 1)[0]


def write_train_batches(data_root: str | os.PathLike, out_path: str | os.PathLike, *, seed: int = SHIPPED_SEED,
                        count: int = SHIPPED_IMAGES) -> dict:
    """Read the images from MNIST under ``data_root`` and write the sealed file atomically."""
    from lenet_parity.reference.datasets import read_split

    images, labels = read_split("mnist", data_root, train=True)
    indices = epoch1_positions(seed, count)
    document = {
        "format_version": TRAIN_BATCHES_VERSION,
        "kind": TRAIN_BATCHES_KIND,
        "torch_version": torch.__version__,
        "seed": seed,
        "dataset": {"name": "mnist", "split": "train", "order": "epoch 1 of training.batch_order(60000, B, seed, 1)"},
        "indices": encode_tensor(indices.tolist(), [count], "int64", encoding="base64"),
        "images": encode_tensor(images[indices].reshape(-1).tolist(), [count, 1, 28, 28], "uint8", encoding="base64"),
        "labels": encode_tensor(labels[indices].tolist(), [count], "int64", encoding="base64"),
    }
    write_document(out_path, document)
    return document


def _tensor(document: dict, key: str, path: Path) -> torch.Tensor:
    flat, shape, dtype = decode_tensor(document[key], where=f"{path}: {key}")
    return torch.tensor(flat, dtype=getattr(torch, dtype)).reshape(shape)


def read_train_batches(path: str | os.PathLike) -> ShippedBatches:
    """Load and check the file; a missing, edited or inconsistent one is a one-line UserInputError."""
    path = Path(path)
    document = read_document(path, kind=TRAIN_BATCHES_KIND, version=TRAIN_BATCHES_VERSION, regenerate=REGENERATE)
    try:
        seed = int(document["seed"])
        shipped = ShippedBatches(seed, *(_tensor(document, k, path) for k in ("indices", "images", "labels")))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserInputError(f"{path}: malformed train-batches file ({exc}); run: {REGENERATE}") from None
    if not torch.equal(shipped.indices, epoch1_positions(seed, len(shipped.indices))):
        raise UserInputError(f"{path}: its images are not epoch 1's order for seed {seed}; run: {REGENERATE}")
    return shipped
