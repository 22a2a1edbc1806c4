"""The click commands of the experiments: ``experiment robustness|drift|batch-size`` and ``report``.

Thin wrappers around plain functions; harness/cli.py mounts them with ``main.add_command(experiment)`` and
``main.add_command(report)``. Exit codes: 0 done, 1 some runs failed (the others are kept), 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lenet_parity.errors import EXIT_MISMATCH, UserInputError

DATA_ROOT = click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
                         show_default=True)
WORKERS = click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True,
                       help="Parallel training processes, one thread each (0: in this process).")


def _sweep(function, **kwargs):
    from lenet_parity.harness.experiments.sweep import SweepError

    try:
        return function(**kwargs)
    except SweepError as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(EXIT_MISMATCH)
    except ValueError as exc:  # a bad option combination found by the plain function
        raise UserInputError(str(exc)) from None


@click.group()
def experiment():
    """Experiments on the reference LeNet: robustness, weight drift, batch size."""


@experiment.command("robustness")
@click.option("--quick", is_flag=True, help="2 epochs on 2,000 images, small val/test: checks the pipeline, not the claim.")
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True, help="Seeds 42, 43, ...")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Sweep folder; default reports/robustness (reports/robustness-quick with --quick).")
@click.option("--variant", "variants", multiple=True, help="Only these variants (clean, jitter-5pct, corrupt-20pct, ...).")
@click.option("--aux-features", is_flag=True, help="Train LeNetWithFeats (symmetry and intensity fed to fc1).")
@DATA_ROOT
@WORKERS
def robustness_cmd(quick, seeds, out, variants, aux_features, data_root, workers):
    """Clean, pixel jitter and label corruption at 5/10/15/20% over SEEDS seeds; table, claim verdict (resumable)."""
    from lenet_parity.harness.experiments.robustness import run_robustness

    _sweep(run_robustness, out=out, quick=quick, seeds=seeds, data_root=data_root, workers=workers,
           variants=list(variants) or None, aux_features=aux_features)


@experiment.command("drift")
@click.option("--runs", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/robustness"),
              show_default=True, help="A robustness sweep folder.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Default: --runs.")
def drift_cmd(runs, out):
    """Per-layer L2 distance, relative change, cosine similarity of each variant's weights against the clean model's."""
    from lenet_parity.harness.experiments.drift import run_drift

    run_drift(runs, out)


@experiment.command("batch-size")
@click.option("--quick", is_flag=True, help="2 epochs on 2,000 images, batch sizes 32 and 128.")
@click.option("--batch-size", "batch_sizes", type=click.IntRange(min=1), multiple=True,
              help="Batch sizes (repeat the option); default 16 32 64 128 256.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Default reports/batch-size (reports/batch-size-quick with --quick).")
@DATA_ROOT
@WORKERS
def batch_size_cmd(quick, batch_sizes, seeds, out, data_root, workers):
    """Test accuracy of the clean model against the batch size (the rest of the default recipe unchanged)."""
    from lenet_parity.harness.experiments.batchsize import run_batch_size

    _sweep(run_batch_size, out=out, quick=quick, batch_sizes=batch_sizes or None, seeds=seeds, data_root=data_root,
           workers=workers)


@click.command("report")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("reports/report.html"),
              show_default=True, help="The HTML file; figures go to its folder's figures/.")
@click.option("--robustness", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/robustness"),
              show_default=True, help="Robustness sweep folder.")
@click.option("--batch", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/batch-size"),
              show_default=True, help="Batch-size sweep folder.")
@click.option("--check-json", type=click.Path(dir_okay=False, exists=True, path_type=Path), multiple=True,
              help="Parity results from `lenet-parity check --json` (repeatable); without it the checks run now.")
@click.option("--backend", "backends", type=click.Choice(["numpy", "python"]), multiple=True,
              help="Layers to check when no --check-json is given (default numpy; python takes minutes).")
@click.option("--no-checks", is_flag=True, help="Leave the parity section out.")
@DATA_ROOT
def report(out, robustness, batch, check_json, backends, no_checks, data_root):
    """One self-contained HTML file: parity tables and heatmaps, experiment tables, every figure."""
    from lenet_parity.harness.experiments.report import build_report

    build_report(out, robustness=robustness, batch=batch, check_json=check_json, backends=backends or ("numpy",),
                 run_checks=not no_checks, data_root=data_root)
