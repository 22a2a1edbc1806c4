"""Parity results for the report: `lenet-parity check --json` documents (read, or made by the check runner) and their heatmap.

A document is {"passed", "first_failure", "results": [{"layer", "tensor", "mode", "dtype", "passed",
"max_abs_err", "atol", "rtol", "error", "case", ...}], "meta"?}. The heatmap colours each (layer, tensor)
cell by the share of the tolerance it used (min_atol_to_pass / atol, the worst over its cases), on a log
scale centred at 1: at most 1 passes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import TwoSlopeNorm

from lenet_parity.errors import UserInputError
from lenet_parity.experiments.plotting import save, subplots
from lenet_parity.vocabulary import DEFAULT_DATA_ROOT

LOG_RANGE = (-6.0, 2.0)  # colour scale of log10(max_abs_err / atol): a millionth of the tolerance to 100x it


def load_documents(paths) -> list[dict[str, Any]]:
    documents = []
    for path in paths:
        path = Path(path)
        try:
            document = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserInputError(f"{path}: cannot read a check --json file ({exc})") from None
        if not isinstance(document, dict) or "results" not in document:
            raise UserInputError(f"{path}: not a `lenet-parity check --json` file (no 'results')")
        document.setdefault("meta", {}).setdefault("source", str(path))
        documents.append(document)
    return documents


def run_documents(backends, data_root: Path = DEFAULT_DATA_ROOT) -> list[dict[str, Any]]:
    """Run every check (all layers, modes and dtypes) through the check runner, once per backend."""
    from lenet_parity.harness.check_runner import ALL, run_checks
    from lenet_parity.harness.context import CheckContext
    from lenet_parity.harness.layer_factory import BackendFactory

    documents = []
    for backend in backends:
        document = run_checks(ALL, CheckContext(BackendFactory(backend), data_root=Path(data_root))).to_json()
        document.setdefault("meta", {}).update({"implementation": backend, "source": f"check_runner.run_checks('all', backend='{backend}')"})
        documents.append(document)
    return documents


def label(document: dict[str, Any]) -> str:
    meta = document.get("meta") or {}
    return str(meta.get("implementation") or meta.get("layers") or Path(str(meta.get("source", "checks"))).stem)


def ratio(result: dict[str, Any]) -> float | None:
    """The share of the tolerance used: min_atol_to_pass / atol (<= 1 passes, since |a - e| <= atol + rtol |e|).

    Files without min_atol_to_pass fall back to max_abs_err / atol. None for a result without numbers
    (an error, a shape or dtype mismatch).
    """
    atol = result.get("atol")
    err = result.get("min_atol_to_pass")
    if not isinstance(err, (int, float)):
        err = result.get("max_abs_err")
    if not isinstance(err, (int, float)) or not isinstance(atol, (int, float)):
        return None
    if atol == 0:
        return 0.0 if err <= 0 else math.inf
    return max(err, 0.0) / atol


def cells(document: dict[str, Any]):
    """(panels, layers, tensors, cell dict): a cell per (mode/dtype, layer, tensor), its worst case first."""
    panels, layers, tensors, table = {}, {}, {}, {}
    for r in document["results"]:
        key = (f"{r['mode']} {r['dtype']}", r["layer"], r["tensor"])
        panels[key[0]], layers[r["layer"]], tensors[r["tensor"]] = None, None, None
        cell = table.setdefault(key, {"cases": 0, "failed": 0, "worst": None, "worst_err": None})
        cell["cases"] += 1
        cell["failed"] += not r["passed"]
        q = ratio(r)
        if q is None:
            cell["worst"], cell["worst_err"], cell["error"] = math.inf, None, r.get("error") or r.get("reason")
        elif cell["worst"] is None or q > cell["worst"]:
            cell["worst"], cell["worst_err"] = q, r["max_abs_err"]
    return list(panels), list(layers), list(tensors), table


def heatmap(document: dict[str, Any], path: Path) -> Path:
    """One panel per mode and dtype: rows layers, columns tensors; ✗ marks a cell with a failed case."""
    panels, layers, tensors, table = cells(document)
    columns = 2
    rows = -(-len(panels) // columns)
    fig, axes = subplots(rows, columns, figsize=(7.2 * columns, rows * max(2.8, 0.24 * len(layers) + 1.3)), squeeze=False)
    norm = TwoSlopeNorm(vmin=LOG_RANGE[0], vcenter=0.0, vmax=LOG_RANGE[1])
    image = None
    for ax, panel in zip(axes.flat, panels):
        grid = np.full((len(layers), len(tensors)), np.nan)
        for (p, layer, tensor), cell in table.items():
            if p == panel:
                q = cell["worst"]
                grid[layers.index(layer), tensors.index(tensor)] = np.clip(
                    LOG_RANGE[1] if math.isinf(q) else math.log10(q) if q > 0 else LOG_RANGE[0], *LOG_RANGE)
        image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdYlGn_r", norm=norm, aspect="auto")
        for (p, layer, tensor), cell in table.items():
            if p != panel:
                continue
            text = "ERR" if cell["worst_err"] is None else f"{cell['worst_err']:.0e}" if cell["worst_err"] else "0"
            if cell["failed"]:
                text = "✗ " + text
            ax.text(tensors.index(tensor), layers.index(layer), text, ha="center", va="center", fontsize=7,
                    fontweight="bold" if cell["failed"] else "normal")
        ax.set_xticks(range(len(tensors)), tensors, fontsize=8, rotation=20)
        ax.set_yticks(range(len(layers)), layers, fontsize=8)
        ax.set_facecolor("#eeeeee")  # a layer without that tensor
        ax.set_title(panel, fontsize=10)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if image is not None:
        bar = fig.colorbar(image, ax=axes, fraction=0.025, pad=0.02, shrink=min(1.0, 0.3 * rows + 0.4))
        bar.set_label("log10(share of tolerance used); > 0 fails", fontsize=8)
    verdict = "PASS" if document.get("passed") else "FAIL"
    fig.suptitle(f"parity of the {label(document)} layers against torch: {verdict} "
                 f"({sum(r['passed'] for r in document['results'])}/{len(document['results'])} tensor checks; "
                 f"cell text: max abs error)", fontsize=11)
    return save(fig, path)


def summary_rows(document: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """For the HTML table: one row per (layer, tensor), a column per mode/dtype with the worst cell."""
    panels, layers, tensors, table = cells(document)
    rows = []
    for layer in layers:
        for tensor in tensors:
            row = {"layer": layer, "tensor": tensor, "cells": {}}
            for panel in panels:
                if (panel, layer, tensor) in table:
                    row["cells"][panel] = table[(panel, layer, tensor)]
            if row["cells"]:
                rows.append(row)
    return panels, rows
