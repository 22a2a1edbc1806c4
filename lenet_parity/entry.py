"""The console script's entry point: Ctrl-C while Python still imports the CLI (click, numpy, the harness: the
first ~0.2 s) is one line and exit 130, as it is later; the CLI itself (harness/cli.py) handles the rest."""

import sys

EXIT_INTERRUPTED = 130  # as lenet_parity.errors says; not imported from there, so nothing is imported before the try


def main() -> None:
    try:
        from lenet_parity.harness.cli import main as cli
    except KeyboardInterrupt:
        sys.stderr.write("interrupted (while starting): nothing was done\n")
        sys.exit(EXIT_INTERRUPTED)
    cli()
