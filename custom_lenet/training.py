"""``lenet-parity train``: data, initial weights and a backend, handed to the shared training loop."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

from lenet_parity.errors import UserInputError
from lenet_parity.reference.config import LeNetConfig
from lenet_parity.reference.training import Recipe, train
from lenet_parity.vocabulary import LAYER_BACKENDS, TORCH, TRAIN_BACKENDS



def make_backend(name: str, weights_path: Path, recipe: Recipe, *, dtype: str = "float32"):
    """A training backend initialised from a weights JSON file."""
    from lenet_parity.reference.weights import read_weights

    weights = read_weights(weights_path)
    if name == TORCH:
        import torch

        from lenet_parity.reference.torch_backend import TorchBackend
        from lenet_parity.reference.weights import build_torch_model

        model = build_torch_model(weights).to(getattr(torch, dtype))
        return TorchBackend(model, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay,
                            seed=recipe.seed), weights.config
    if name in LAYER_BACKENDS:
        from lenet_parity.custom_lenet.backend import CustomBackend

        return CustomBackend.from_weights(name, weights, lr=recipe.lr, momentum=recipe.momentum,
                                          weight_decay=recipe.weight_decay, dtype=dtype), weights.config
    raise UserInputError(f"unknown backend {name!r}; choose one of {', '.join(TRAIN_BACKENDS)}")


def run_training(backend_name: str, *, dataset: str, data_root: Path, weights_path: Path, out: Path,
                 recipe: Recipe, resume: bool, progress: bool = True, dtype: str = "float32",
                 log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Train ``backend_name``'s LeNet from ``weights_path`` on ``dataset``; ``log`` receives a line per epoch."""
    import torch

    from lenet_parity.reference.datasets import load_splits
    from lenet_parity.reference.determinism import seed_everything

    seed_everything(recipe.seed)
    splits = load_splits(dataset, data_root)
    backend, config = make_backend(backend_name, weights_path, recipe, dtype=dtype)
    expected = LeNetConfig(in_channels=splits.info.in_channels, image_size=splits.info.image_size,
                           num_classes=splits.info.num_classes)
    if (config.in_channels, config.image_size, config.num_classes) != (expected.in_channels, expected.image_size, expected.num_classes):
        raise UserInputError(f"{weights_path}: a model for {config.in_channels}x{config.image_size}x{config.image_size} "
                             f"inputs cannot train on {dataset}; export weights for it first "
                             f"(lenet-parity export-weights)")
    to = getattr(torch, dtype)
    data = {k: (getattr(splits, k).tensors[0].to(to), getattr(splits, k).tensors[1]) for k in ("train", "val", "test")}
    background = [-m / s for m, s in zip(splits.mean, splits.std)]  # a blank pixel, normalised
    meta = {"data": splits.describe(), "weights": str(weights_path), "dtype": dtype,
            "weights_sha256": hashlib.sha256(Path(weights_path).read_bytes()).hexdigest()}
    threads = torch.get_num_threads()
    if backend_name != TORCH:
        # torch only shifts and slices the batches here; with several threads its idle OpenMP workers spin
        # between those calls and fight OpenBLAS's for the cores (2 cores: a NumPy epoch took 14.6 s, 5.6 s with 1)
        torch.set_num_threads(1)
    try:
        return train(backend, data, recipe, out, resume=resume, meta=meta, progress=progress, background=background,
                     log=log)
    except ValueError as exc:  # a resume file from another run
        raise UserInputError(str(exc)) from None
    finally:
        torch.set_num_threads(threads)
