"""One experiment run: a data variant of MNIST, a seeded LeNet, the shared training loop, then test-set metrics.

A run lives in its own folder: spec.json (what it is), corruption.json (what was done to the data),
init.json (its initial weights), the loop's log.csv/best.json/resume.pkl/summary.json, metrics.json, stdout.log.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lenet_parity.atomic import atomic_write_text
from lenet_parity.errors import UserInputError
from lenet_parity.reference.training import Recipe

SPEC_FILE, METRICS_FILE, SUMMARY_FILE = "spec.json", "metrics.json", "summary.json"


@dataclass(frozen=True)
class RunSpec:
    name: str  # the folder under the sweep's runs/, e.g. "corrupt-10pct/seed-43"
    group: str  # the table row this run counts towards, e.g. "corrupt-10pct" or "batch-64"
    run_dir: str  # absolute path of the run folder
    variant: str  # clean, jitter or corrupt
    rate: float  # the jitter or corruption rate (0 for clean)
    seed: int  # initial weights (He init after seed_everything), data order, jitter and corruption draws
    recipe: Recipe = field(default_factory=Recipe)
    data_root: str = "data"
    dataset: str = "mnist"
    val_limit: int | None = None  # evaluate on the first N validation / test images only (--quick)
    test_limit: int | None = None
    aux_features: bool = False  # LeNetWithFeats instead of LeNet

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("run_dir"), d.pop("data_root")  # where things are is not what the run is
        return d

    @property
    def path(self) -> Path:
        return Path(self.run_dir)


def spec_from_dir(run_dir: str | Path, data_root: str | Path = "data") -> RunSpec:
    """The RunSpec of an existing run folder (its spec.json)."""
    saved = json.loads((Path(run_dir) / SPEC_FILE).read_text())
    saved["recipe"] = Recipe(**saved["recipe"])
    return RunSpec(**saved, run_dir=str(Path(run_dir).resolve()), data_root=str(data_root))


def check_spec(spec: RunSpec) -> None:
    """Refuse a folder that holds another run (say a --quick one): its summary would be taken as this run's."""
    path = spec.path / SPEC_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        if saved != json.loads(json.dumps(spec.to_json())):
            changed = sorted(k for k in set(saved) | set(spec.to_json()) if saved.get(k) != spec.to_json().get(k))
            raise UserInputError(f"{spec.path} holds another run (differs in {', '.join(changed)}); "
                                 f"use another --out or delete that folder")


def is_done(spec: RunSpec) -> bool:
    return (spec.path / SUMMARY_FILE).exists()


@functools.lru_cache(maxsize=1)
def _splits(dataset: str, root: str):
    from lenet_parity.reference.datasets import load_splits

    return load_splits(dataset, root)  # once per worker process: the pool reuses its processes


def build_data(spec: RunSpec):
    """(data dict for the loop, MNISTWithFeats of the training split, splits): train variant, clean val/test."""
    from lenet_parity.experiments.features import MNISTWithFeats

    splits = _splits(spec.dataset, str(spec.data_root))
    x, y = splits.train.tensors
    positions = splits.train_indices
    if spec.recipe.limit:  # corrupt only what the loop trains on, so the rate holds for that subset
        x, y, positions = x[:spec.recipe.limit], y[:spec.recipe.limit], positions[:spec.recipe.limit]
    train = MNISTWithFeats(x, y, mean=splits.mean, std=splits.std, num_classes=splits.info.num_classes,
                           jitter=spec.rate if spec.variant == "jitter" else 0.0,
                           corrupt=spec.rate if spec.variant == "corrupt" else 0.0, seed=spec.seed)
    val, test = splits.val.tensors, splits.test.tensors
    data = {"train": train.tensors, "val": tuple(t[:spec.val_limit] for t in val),
            "test": tuple(t[:spec.test_limit] for t in test)}
    return data, train, splits


def build_model(spec: RunSpec, splits):
    """A fresh seeded model: the same seed gives the same initial weights in every variant."""
    from lenet_parity.experiments.features import LeNetWithFeats
    from lenet_parity.reference.config import LeNetConfig
    from lenet_parity.reference.determinism import seed_everything
    from lenet_parity.reference.model import LeNet

    seed_everything(spec.seed)
    info = splits.info
    config = LeNetConfig(in_channels=info.in_channels, image_size=info.image_size, num_classes=info.num_classes)
    return LeNetWithFeats(config, mean=splits.mean, std=splits.std) if spec.aux_features else LeNet(config)


def load_trained(spec: RunSpec, splits):
    """The run's best model (best.json), ready for evaluation."""
    from lenet_parity.reference.weights import load_into_torch

    model = build_model(spec, splits)
    load_into_torch(model, spec.path / "best.json")
    return model.eval()


def write_metrics(spec: RunSpec, splits=None) -> dict[str, Any]:
    from lenet_parity.experiments.metrics import evaluate_logp, predict_logp

    if splits is None:
        splits = _splits(spec.dataset, str(spec.data_root))
    x, y = (t[:spec.test_limit] for t in splits.test.tensors)
    metrics = evaluate_logp(predict_logp(load_trained(spec, splits), x), y)
    atomic_write_text(spec.path / METRICS_FILE, json.dumps(metrics, indent=1) + "\n")
    return metrics


def execute_run(spec: RunSpec) -> str:
    """Train one run (resuming if it was interrupted) and write its metrics; one thread, its log in stdout.log."""
    import torch

    from lenet_parity.reference.torch_backend import TorchBackend
    from lenet_parity.reference.training import train
    from lenet_parity.reference.weights import export_weights

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two workers on two cores; and torch's sums depend on the thread count
    spec.path.mkdir(parents=True, exist_ok=True)
    try:
        with open(spec.path / "stdout.log", "a", buffering=1) as log:
            check_spec(spec)
            atomic_write_text(spec.path / SPEC_FILE, json.dumps(spec.to_json(), indent=1) + "\n")
            data, train_set, splits = build_data(spec)
            atomic_write_text(spec.path / "corruption.json", json.dumps(train_set.record(
                splits.train_indices[:len(train_set)])) + "\n")
            model = build_model(spec, splits)
            if not (spec.path / "init.json").exists():
                export_weights(model, spec.path / "init.json", seed=spec.seed, meta={"source": "initial weights"})
            if not is_done(spec):
                backend = TorchBackend(model, lr=spec.recipe.lr, momentum=spec.recipe.momentum,
                                       weight_decay=spec.recipe.weight_decay, seed=spec.seed)
                background = [-m / s for m, s in zip(splits.mean, splits.std)]
                meta = {"data": splits.describe(), "experiment": spec.to_json()}
                train(backend, data, spec.recipe, spec.path, meta=meta, progress=False, background=background,
                      log=lambda line: log.write(line + "\n"))
            write_metrics(spec, splits)
    finally:
        torch.set_num_threads(threads)
    return spec.name


def collect_row(spec: RunSpec) -> dict[str, Any]:
    """A finished run as one table row (metrics.json is recomputed if an interruption lost it)."""
    summary = json.loads((spec.path / SUMMARY_FILE).read_text())
    metrics_path = spec.path / METRICS_FILE
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else write_metrics(spec)
    epochs = [r for r in _log_rows(spec.path / "log.csv") if r["kind"] == "epoch"]
    seconds = [float(r["epoch_seconds"]) for r in epochs if r["epoch_seconds"]]
    margin = metrics["margin"]
    return {"name": spec.name, "group": spec.group, "variant": spec.variant, "rate": spec.rate, "seed": spec.seed,
            "batch_size": spec.recipe.batch_size, "epochs_run": summary["epochs_run"], "best_epoch": summary["best_epoch"],
            "val_loss": summary["best_val_loss"], "test_acc": metrics["test_acc"], "test_loss": metrics["test_nll"],
            "ece": metrics["ece"], "mean_confidence": metrics["mean_confidence"], "margin_mean": margin["mean"],
            "margin_median": margin["median"], "margin_below_0.5": margin["below_0.5"],
            "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None}


def load_runs(sweep: str | Path) -> list[dict[str, Any]] | None:
    """A sweep's runs.json, each row with its ``run_dir`` under this folder (the sweep may have been moved)."""
    path = Path(sweep) / "runs.json"
    if not path.exists():
        return None
    return [{**row, "run_dir": str(Path(sweep).resolve() / "runs" / row["name"])} for row in json.loads(path.read_text())]


def _log_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))
