"""``lenet-parity experiment batch-size``: test accuracy of the clean model against the batch size (a small sweep).

Everything else is the default recipe, the learning rate included (0.01 for every batch size, not scaled),
so a larger batch also means fewer, equally sized steps per epoch.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from lenet_parity.atomic import atomic_write_text
from lenet_parity.experiments.robustness import FIRST_SEED, QUICK_RECIPE, QUICK_TEST, QUICK_VAL
from lenet_parity.experiments.runs import RunSpec
from lenet_parity.executors import Executor
from lenet_parity.experiments.parallel import run_sweep, write_table
from lenet_parity.reference.training import Recipe
from lenet_parity.vocabulary import DEFAULT_DATA_ROOT

BATCH_SIZES = (16, 32, 64, 128, 256)
QUICK_BATCH_SIZES = (32, 128)
DEFAULT_OUT, QUICK_OUT = Path("reports/batch-size"), Path("reports/batch-size-quick")


def batch_size_specs(out: Path, *, quick: bool, batch_sizes, seeds: int, data_root: Path) -> list[RunSpec]:
    if not batch_sizes or min(batch_sizes) < 1:
        raise ValueError(f"batch sizes must be positive integers, got {batch_sizes}")
    specs = []
    for seed in range(FIRST_SEED, FIRST_SEED + seeds):
        for b in batch_sizes:
            recipe = replace(QUICK_RECIPE if quick else Recipe(), seed=seed, batch_size=b)
            specs.append(RunSpec(name=f"batch-{b}/seed-{seed}", group=f"batch-{b}",
                                 run_dir=str((out / "runs" / f"batch-{b}" / f"seed-{seed}").resolve()),
                                 variant="clean", rate=0.0, seed=seed, recipe=recipe, data_root=str(data_root),
                                 val_limit=QUICK_VAL if quick else None, test_limit=QUICK_TEST if quick else None))
    return specs


def run_batch_size(out: Path | None = None, *, quick: bool = False, batch_sizes=None, seeds: int = 1,
                   data_root: Path = DEFAULT_DATA_ROOT, executor: Executor = Executor(), log=None) -> dict[str, Any]:
    """Train the clean model at each batch size; write runs.* and table.* (one row per batch size) under ``out``."""
    out = Path(out or (QUICK_OUT if quick else DEFAULT_OUT))
    batch_sizes = tuple(batch_sizes or (QUICK_BATCH_SIZES if quick else BATCH_SIZES))
    specs = batch_size_specs(out, quick=quick, batch_sizes=batch_sizes, seeds=seeds, data_root=data_root)
    command = (f"lenet-parity experiment batch-size{' --quick' if quick else ''} --seeds {seeds} --out {out}"
               + "".join(f" --batch-size {b}" for b in batch_sizes))
    atomic_write_text(out / "sweep.json", json.dumps({"command": command, "quick": quick, "seeds": seeds,
                                                      "runs": len(specs)}, indent=1) + "\n")
    result = run_sweep(specs, out / "runs", executor=executor, log=log)
    table = []
    for b in batch_sizes:
        runs = [r for r in result.rows if r["batch_size"] == b]
        accs = [r["test_acc"] for r in runs]
        table.append({"batch_size": b, "seeds": len(runs), "test_acc": statistics.fmean(accs),
                      "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else None,
                      "val_loss": statistics.fmean(r["val_loss"] for r in runs),
                      "epochs_run": statistics.fmean(r["epochs_run"] for r in runs),
                      "seconds_per_epoch": statistics.fmean(r["seconds_per_epoch"] for r in runs)})
    write_table(table, out / "table")
    if log:
        for row in table:
            log(f"batch {row['batch_size']:>4}: test acc {100 * row['test_acc']:.2f}%, val loss {row['val_loss']:.4f}, "
                f"{row['epochs_run']:.1f} epochs, {row['seconds_per_epoch']:.1f} s/epoch")
    return {"out": str(out), "table": table, "executed": result.executed, "skipped": result.skipped}
