"""``lenet-parity gradescope build|run``: thin click wrappers around harness/gradescope.py (registered at the end
of harness/cli.py). Exit codes as cli.py's: 0 done, 2 bad input (one line)."""

from __future__ import annotations

from pathlib import Path

import click

from lenet_parity.vocabulary import DEFAULT_DATA_ROOT, DEFAULT_SEED, MAX_SEED, MODES

RUBRIC_OPTION = click.option("--rubric", type=click.Path(dir_okay=False, path_type=Path), default=None,
                             help="A TOML rubric (points, partial credit, visibility per layer type) "
                                  "[default: the documented default rubric].")
ADAPTER_OPTION = click.option("--adapter", type=click.Path(dir_okay=False, path_type=Path), default=None,
                              help="An adapter file (TOML) declaring how the class's code names its layers.")
SEED_OPTION = click.option("--seed", type=click.IntRange(0, MAX_SEED), default=DEFAULT_SEED, show_default=True,
                           help="Draws the sweep's random inputs; keep a private one (students never see it).")
TIMEOUT_OPTION = click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60,
                              show_default=True, help="Seconds per call into the student's layer.")
MODE_OPTION = click.option("--mode", "modes", type=click.Choice(MODES), multiple=True,
                           help="Repeatable [default: every mode]: the modes each layer type is checked in.")


@click.group("gradescope")
def gradescope():
    """Gradescope's autograder: build the zip a teacher uploads; run it on one submission."""


@gradescope.command("build")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The zip to write (autograder.zip), written whole or not at all.")
@RUBRIC_OPTION
@ADAPTER_OPTION
@SEED_OPTION
@TIMEOUT_OPTION
@MODE_OPTION
@click.option("--wheel", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A lenet_parity-*.whl to put in the zip [default: built now from the installed source tree].")
def build_cmd(out, rubric, adapter, seed, timeout, modes, wheel):
    """Write the autograder zip: setup.sh, run_autograder, the rubric and adapter, config.json and a wheel.

    Exit 0 when the zip was written, 2 for bad input (a missing rubric, a bad adapter)."""
    from lenet_parity.harness.cli import _writable
    from lenet_parity.harness.gradescope import build_zip

    _writable("--out", out)
    config = build_zip(out, rubric_path=rubric, adapter_path=adapter, seed=seed, timeout=timeout,
                       modes=tuple(dict.fromkeys(modes)) or None, wheel=wheel)
    click.echo(f"wrote {out}: lenet-parity {config['lenet_parity']} ({config['wheel']}), torch {config['torch']}, "
               f"seed {seed}, timeout {timeout:g} s, modes {', '.join(modes) or 'all'}; upload it as the "
               f"assignment's autograder (Configure Autograder > Zip file upload)")


@gradescope.command("run")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), envvar="AUTOGRADER_ROOT",
              default=Path("/autograder"), show_default=True,
              help="Gradescope's autograder folder: grades ROOT/submission/, writes ROOT/results/results.json "
                   "[env: AUTOGRADER_ROOT].")
@RUBRIC_OPTION
@ADAPTER_OPTION
@SEED_OPTION
@TIMEOUT_OPTION
@MODE_OPTION
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA_ROOT,
              help="MNIST, read by the train mode only beyond the batches shipped in the package.")
def run_cmd(root, rubric, adapter, seed, timeout, modes, data_root):
    """Grade ROOT/submission/ as one submission (whatever files it holds) into ROOT/results/results.json.

    Exit 0 whenever results.json was written (Gradescope reads the file, not the exit code); 2 when the
    rubric or adapter is bad (results.json then says the autograder is misconfigured)."""
    from lenet_parity.errors import UserInputError
    from lenet_parity.harness.cli import _conventions
    from lenet_parity.harness.gradescope import RESULTS, grade_submission, misconfigured, printed_by
    from lenet_parity.harness.grading import Reading
    from lenet_parity.harness.rubric import read_rubric
    from lenet_parity.harness.sandbox import probe

    try:
        chosen = read_rubric(rubric)
        reading = Reading(**_conventions(None, adapter))
    except UserInputError as exc:
        misconfigured(root, exc)
        raise
    # what follows goes to Gradescope's stdout file, shown to students per the rubric's stdout_visibility
    click.echo(f"grading {root / 'submission'} (seed {seed}, timeout {timeout:g} s, modes "
               f"{', '.join(modes) or 'all'}; the student's code runs {probe().describe()})")
    grade, document = grade_submission(root, chosen, reading=reading, seed=seed, timeout=timeout,
                                       modes=tuple(dict.fromkeys(modes)) or None, data_root=data_root)
    for test in document["tests"]:
        click.echo(f"{test['name']}: {test['score']:g} / {test['max_score']:g}  {grade.cells.get(test['tags'][0])}")
    text, total = printed_by(grade)
    if total:
        click.echo(f"what the student's code printed ({total:,} bytes):\n{text}")
    click.echo(f"score {document['score']:g} of {chosen.max_points:g}: {root / RESULTS}")
