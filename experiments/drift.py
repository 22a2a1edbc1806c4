"""``lenet-parity experiment drift``: how far each jittered or corrupted model's weights moved from the clean one.

Per seed, the variant and the clean run share initial weights and batch order, so the difference is the
data's doing. Per layer (weight and bias together) and for all layers at once: L2 distance ||w - w_clean||,
relative change ||w - w_clean|| / ||w_clean||, cosine similarity <w, w_clean> / (||w|| ||w_clean||).
The clean model against its own initial weights gives the scale: how far training itself moved it.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch

from lenet_parity.errors import UserInputError
from lenet_parity.experiments.parallel import write_table

ALL = "all"  # the row of every parameter concatenated


def layer_vectors(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Group a state dict's parameters by layer (conv1.weight + conv1.bias -> conv1), flattened to float64.

    Accepts torch tensors or a weights file's (flat values, shape, dtype) tuples; integer buffers are left out.
    """
    layers: dict[str, list[torch.Tensor]] = {}
    for name, value in state.items():
        if isinstance(value, tuple):  # (flat values, shape, dtype) from read_weights
            value = torch.tensor(value[0], dtype=getattr(torch, value[2]))
        t = torch.as_tensor(value)
        if not t.is_floating_point() or name.rsplit(".", 1)[-1].startswith("running_"):
            continue  # parameters only: batchnorm statistics are not learned weights
        layers.setdefault(name.rsplit(".", 1)[0], []).append(t.reshape(-1).double())
    return {layer: torch.cat(parts) for layer, parts in layers.items()}


def drift_metrics(weights: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
    """L2 distance, relative change and cosine similarity of ``weights`` against ``reference``, per layer and all."""
    if weights.keys() != reference.keys():
        raise ValueError(f"the models have different layers: {sorted(weights)} vs {sorted(reference)}")
    rows = []
    pairs = [(layer, weights[layer], reference[layer]) for layer in reference]
    pairs.append((ALL, torch.cat([p[1] for p in pairs]), torch.cat([p[2] for p in pairs])))
    for layer, w, w0 in pairs:
        if w.shape != w0.shape:
            raise ValueError(f"{layer}: {tuple(w.shape)} parameters vs {tuple(w0.shape)} in the reference")
        distance, norm0, norm = float((w - w0).norm()), float(w0.norm()), float(w.norm())
        rows.append({"layer": layer, "l2": distance, "rel_change": distance / norm0 if norm0 else float("inf"),
                     "cos_sim": float(w @ w0) / (norm * norm0) if norm and norm0 else float("nan"),
                     "numel": w.numel()})
    return rows


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from lenet_parity.reference.weights import read_weights

    return layer_vectors(read_weights(path).tensors)


def compute_drift(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows (variant, seed, layer, metrics) for every non-clean run against the clean run of its seed."""
    clean = {r["seed"]: Path(r["run_dir"]) for r in runs if r["variant"] == "clean"}
    rows = []
    for seed, run_dir in clean.items():
        init, trained = _weights(run_dir / "init.json"), _weights(run_dir / "best.json")
        rows += [{"variant": "clean vs its init", "seed": seed, **m} for m in drift_metrics(trained, init)]
    for run in runs:
        if run["variant"] == "clean":
            continue
        if run["seed"] not in clean:
            raise UserInputError(f"{run['name']}: no clean run with seed {run['seed']} to compare against")
        reference = _weights(clean[run["seed"]] / "best.json")
        rows += [{"variant": run["group"], "seed": run["seed"], **m}
                 for m in drift_metrics(_weights(Path(run["run_dir"]) / "best.json"), reference)]
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and sample standard deviation over seeds, per (variant, layer)."""
    table = []
    for variant, layer in dict.fromkeys((r["variant"], r["layer"]) for r in rows):
        group = [r for r in rows if r["variant"] == variant and r["layer"] == layer]
        row = {"variant": variant, "layer": layer, "seeds": len(group)}
        for key in ("l2", "rel_change", "cos_sim"):
            values = [r[key] for r in group]
            row[key] = statistics.fmean(values)
            row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
        table.append(row)
    return table


def format_drift(table: list[dict[str, Any]], layer: str = ALL) -> str:
    rows = sorted((r for r in table if r["layer"] == layer), key=lambda r: -r["l2"])
    lines = [f"{'variant':20} {'L2 distance':>12} {'rel change':>11} {'cos sim':>8}   (layer: {layer}, mean over seeds)"]
    lines += [f"{r['variant']:20} {r['l2']:12.3f} {r['rel_change']:11.4f} {r['cos_sim']:8.4f}" for r in rows]
    return "\n".join(lines)


def run_drift(runs: Path = Path("reports/robustness"), out: Path | None = None, *, log=print) -> dict[str, Any]:
    """Read the robustness sweep in ``runs`` (its runs.json), write drift_runs.* and drift.* to ``out`` (default: runs)."""
    from lenet_parity.experiments.runs import load_runs

    runs, out = Path(runs), Path(out or runs)
    rows = load_runs(runs)
    if rows is None:
        raise UserInputError(f"{runs / 'runs.json'} not found; run: lenet-parity experiment robustness --out {runs}")
    per_run = compute_drift(rows)
    table = summarise(per_run)
    write_table(per_run, out / "drift_runs")
    write_table(table, out / "drift")
    if log:
        log(format_drift(table))
    return {"out": str(out), "rows": per_run, "table": table}
