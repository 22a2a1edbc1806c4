"""``lenet-parity cases export``: the cases' inputs as .npy files and a manifest, written whole or not at all.

DIR/manifest.json describes every case (DIR/manifest.tsv says the same in tab-separated lines, for a language
with no JSON reader at hand); DIR/cases/<id>/ holds its inputs. The expected values are not written: the
harness rebuilds them when it checks the answers, so they cannot be copied.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from lenet_parity.atomic import atomic_write_text
from lenet_parity.harness.portable.plan import FORMAT_VERSION, PortableCase

MANIFEST, MANIFEST_TSV, CASES, ANSWERS = "manifest.json", "manifest.tsv", "cases", "answers"
TSV_COLUMNS = ("id", "type", "layer", "dtype", "dir", "inputs", "outputs", "beyond_lenet", "training", "kwargs")


def manifest_document(cases: list[PortableCase], *, kinds: list[str], scope: str, dtypes: list[str],
                      torch_version: str) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "torch_version": torch_version, "types": kinds, "scope": scope,
            "dtypes": dtypes, "cases": [c.record() for c in cases]}


def tsv_text(records: list[dict[str, Any]]) -> str:
    """One line per case, comma-separated lists, kwargs as compact JSON; a header line first."""
    lines = ["\t".join(TSV_COLUMNS)]
    for r in records:
        cells = {**r, "inputs": ",".join(r["inputs"]), "outputs": ",".join(r["outputs"]),
                 "beyond_lenet": int(r["beyond_lenet"]), "training": int(r["training"]),
                 "kwargs": json.dumps(r["kwargs"], separators=(",", ":"))}
        lines.append("\t".join(str(cells[c]) for c in TSV_COLUMNS))
    return "\n".join(lines) + "\n"


def export_cases(cases: list[PortableCase], out: Path, manifest: dict[str, Any]) -> None:
    """Write DIR/cases/ (replacing an earlier export's) and then the manifests; an earlier DIR/answers/ stays.

    The case folders are written under a scratch name beside the final one and renamed into place, and the
    manifest last, so an interrupted export leaves the previous one whole."""
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".cases-", dir=out))
    try:
        for case in cases:
            folder = scratch / case.id
            folder.mkdir()
            for name, array in case.inputs().items():
                np.save(folder / f"{name}.npy", array, allow_pickle=False)
        old = out / CASES
        if old.exists():
            old.rename(scratch.with_name(scratch.name + "-old"))
        scratch.rename(old)
        shutil.rmtree(scratch.with_name(scratch.name + "-old"), ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    atomic_write_text(out / MANIFEST_TSV, tsv_text(manifest["cases"]))
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1, allow_nan=False) + "\n")
