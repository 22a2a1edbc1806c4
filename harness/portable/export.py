"""``lenet-parity cases export``: the cases' inputs as .npy files and a manifest, written whole or not at all.

DIR/manifest.json describes every case (DIR/manifest.tsv says the same in tab-separated lines, for a language
with no JSON reader at hand); DIR/cases/<id>/ holds its inputs. The expected values are not written: the
harness rebuilds them when it checks the answers, so they cannot be copied.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from lenet_parity.atomic import atomic_write_text, replace_folder
from lenet_parity.harness.portable.plan import FORMAT_VERSION, PortableCase
from lenet_parity.versions import versions

MANIFEST, MANIFEST_TSV, CASES, ANSWERS = "manifest.json", "manifest.tsv", "cases", "answers"
TSV_COLUMNS = ("id", "type", "layer", "dtype", "dir", "inputs", "outputs", "beyond_lenet", "training", "kwargs")


def manifest_document(cases: list[PortableCase], *, kinds: list[str], scope: str, dtypes: list[str],
                      seed: int, model: str | None = None) -> dict[str, Any]:
    """``seed`` drew the sweep's inputs; ``cases check`` reads it back to rebuild the same expected values."""
    found = versions()
    return {"format_version": FORMAT_VERSION, "torch_version": found["torch"], "versions": found, "types": kinds,
            "scope": scope, "dtypes": dtypes, "seed": seed, "model": model, "cases": [c.record() for c in cases]}


def tsv_text(records: list[dict[str, Any]]) -> str:
    """One line per case, comma-separated lists, kwargs as compact JSON; a header line first."""
    lines = ["\t".join(TSV_COLUMNS)]
    for r in records:
        cells = {**r, "inputs": ",".join(r["inputs"]), "outputs": ",".join(r["outputs"]),
                 "beyond_lenet": int(r["beyond_lenet"]), "training": int(r["training"]),
                 "kwargs": json.dumps(r["kwargs"], separators=(",", ":"))}
        lines.append("\t".join(str(cells[c]) for c in TSV_COLUMNS))
    return "\n".join(lines) + "\n"


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def export_cases(cases: list[PortableCase], out: Path, manifest: dict[str, Any]) -> None:
    """DIR/cases/ (replacing an earlier export's whole), then the manifests; an earlier DIR/answers/ stays.

    An interruption between the two leaves new cases beside the previous manifest: ``cases check`` then finds the
    inputs are not what the manifest exported and says to export again."""
    files = {f"{case.id}/{name}.npy": npy_bytes(array) for case in cases for name, array in case.inputs().items()}
    replace_folder(out / CASES, files)
    atomic_write_text(out / MANIFEST_TSV, tsv_text(manifest["cases"]))
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1, allow_nan=False) + "\n")
