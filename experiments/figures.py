"""Every figure of the report, drawn from what the experiments left on disk; a missing input names its command.

make_figures returns {"figures": [{"name", "file", "title", "caption"}], "missing": [{"name", "why"}],
"tables": {...}} and writes the same as figures.json next to the PNGs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lenet_parity.atomic import atomic_write_text, safe_name
from lenet_parity.experiments import model_figures, parity, run_figures, saliency
from lenet_parity.experiments.robustness import RATES
from lenet_parity.experiments.runs import _splits, load_runs, load_trained, spec_from_dir
from lenet_parity.vocabulary import DEFAULT_DATA_ROOT

SALIENCY_IMAGES = 1000  # test images behind the saliency numbers
CHANCE_LEVEL = 0.2  # test accuracy below this (10 classes): the run never learned


def _read(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def make_figures(out: Path, *, robustness: Path | None, batch: Path | None, documents: list[dict[str, Any]],
                 data_root: Path = DEFAULT_DATA_ROOT, log=print) -> dict[str, Any]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures, missing, tables = [], [], {}

    def add(name, file, title, caption):
        figures.append({"name": name, "file": str(file), "title": title, "caption": caption})
        if log:
            log(f"figure {file}")

    runs = load_runs(robustness) if robustness else None
    table = _read(Path(robustness) / "table.json") if robustness else None
    if runs:
        tables["robustness"], tables["claim"] = table, _read(Path(robustness) / "claim.json")
        tables["robustness_sweep"] = _read(Path(robustness) / "sweep.json")
        tables["robustness_runs"] = runs
        _run_figures(out, runs, table, Path(robustness), add, tables)
        _model_figures(out, runs, data_root, add, tables)
    else:
        why = f"run: lenet-parity experiment robustness --out {robustness or 'reports/robustness'}"
        for name in ("robustness", "curves", "epoch time", "margins", "reliability", "drift", "kernels", "saliency",
                     "confusion", "misclassified", "data examples"):
            missing.append({"name": name, "why": why})
    batch_table = _read(Path(batch) / "table.json") if batch else None
    if batch_table:
        tables["batch_size"], tables["batch_sweep"] = batch_table, _read(Path(batch) / "sweep.json")
        add("batch size", run_figures.batch_size(batch_table, out / "batch_size.png"), "Accuracy against batch size",
            "Clean model, default recipe except the batch size; the learning rate stays 0.01, so larger batches take "
            "fewer steps per epoch. Labels: epochs run before early stopping.")
    else:
        missing.append({"name": "batch size", "why": f"run: lenet-parity experiment batch-size --out {batch or 'reports/batch-size'}"})
    for i, document in enumerate(documents):
        name = parity.label(document)
        add(f"parity {name}", parity.heatmap(document, out / f"parity_{i}_{safe_name(name)}.png"),
            f"Parity heatmap: {name} layers",
            "Each cell: the worst case of that layer and tensor, coloured by the share of its tolerance it used "
            "(the smallest atol that would pass, with the table's rtol, over the table's atol: green well inside, "
            "yellow near, red beyond); the text is its max abs error; ✗ marks a failed check.")
    if not documents:
        missing.append({"name": "parity heatmap", "why": "give --check-json FILE (from lenet-parity check --json) or let "
                                                         "the report run the checks"})
    result = {"figures": figures, "missing": missing, "tables": tables}
    atomic_write_text(out / "figures.json", json.dumps(result, indent=1, default=str) + "\n")
    return result


def _run_figures(out, runs, table, robustness: Path, add, tables) -> None:
    seeds = len({r["seed"] for r in runs})
    add("robustness", run_figures.robustness(table, runs, out / "robustness.png"), "Robustness to pixel jitter and label corruption",
        f"Test accuracy, clean validation loss and ECE against the rate; lines: the mean over {seeds} seed(s), "
        "dots: each run. Corruption is applied to the training split only.")
    add("curves", run_figures.curves(runs, out / "curves.png"), "Training and validation curves across variants",
        "Training loss is on the labels the model was given (corrupted ones included); validation is clean.")
    add("epoch time", run_figures.epoch_time(runs, out / "epoch_time.png"), "Time per epoch",
        "Wall-clock seconds of each training epoch (without the validation pass).")
    add("margins", run_figures.margins(runs, out / "margins.png"), "Confidence-margin distributions",
        "Top-1 minus top-2 softmax probability on the test set, pooled over seeds (log scale).")
    first = min(r["seed"] for r in runs)
    chosen, skipped = showcase({r["group"]: r for r in runs if r["seed"] == first})
    note = f" Left out, stuck at chance level: {', '.join(skipped)}." if skipped else ""
    add("reliability", run_figures.reliability(runs, chosen, out / "reliability.png"), "Calibration (reliability diagrams)",
        f"Accuracy per confidence bin (n: test images in the bin), seed {first}; bars below the diagonal mean "
        f"over-confidence, above it under-confidence. Clean and the highest rate whose model learned.{note}")
    drift_table = _read(robustness / "drift.json")
    if drift_table is None:
        from lenet_parity.experiments.drift import run_drift

        drift_table = run_drift(robustness, log=None)["table"]
    tables["drift"] = drift_table
    add("drift", run_figures.drift(drift_table, out / "drift.png"), "Weight drift against the clean model, per layer",
        "Each variant against the clean run of the same seed (same initial weights and batch order); "
        "'clean vs its init' shows how far training itself moved the weights.")


def showcase(by_group: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(clean, then per kind the highest rate whose run learned; the higher ones stuck at chance level)."""
    chosen, skipped = ["clean"] if "clean" in by_group else [], []
    for kind in ("corrupt", "jitter"):
        present = sorted((g for g in by_group if g.startswith(kind)), key=lambda g: -by_group[g]["rate"])
        learned = [g for g in present if by_group[g]["test_acc"] >= CHANCE_LEVEL]
        if learned:
            chosen.append(learned[0])
            skipped += [g for g in present if by_group[g]["rate"] > by_group[learned[0]]["rate"]]
    return chosen, skipped


def _model_figures(out, runs, data_root: Path, add, tables) -> None:
    first = min(r["seed"] for r in runs)
    by_group = {r["group"]: r for r in runs if r["seed"] == first}
    clean_spec = spec_from_dir(by_group["clean"]["run_dir"], data_root) if "clean" in by_group else None
    if clean_spec is None:
        return
    splits = _splits(clean_spec.dataset, str(data_root))
    mean, std = splits.mean, splits.std
    x, y = (t[:clean_spec.test_limit] for t in splits.test.tensors)
    clean = load_trained(clean_spec, splits)
    add("kernels", model_figures.kernels(clean, out / "kernels.png", f"clean model, seed {first}"),
        "Learned convolution kernels", "Blue negative, red positive, one symmetric scale per layer.")
    chosen, skipped = showcase(by_group)
    models = {g: clean if g == "clean" else load_trained(spec_from_dir(by_group[g]["run_dir"], data_root), splits)
              for g in chosen}
    picked = saliency.pick_digits(y)
    note = f" Left out, stuck at chance level: {', '.join(skipped)}." if skipped else ""
    add("saliency", saliency.saliency_figure(models, x[picked], y[picked], mean, std, out / "saliency.png"),
        "Input-gradient saliency: clean, label-corrupted and jittered models",
        f"The same test digits (the first of each class) for each model, seed {first}; for corruption and jitter "
        f"the highest rate whose model learned.{note}")
    all_models: dict[str, list] = {}
    for r in runs:
        all_models.setdefault(r["group"], []).append(load_trained(spec_from_dir(r["run_dir"], data_root), splits))
    tables["saliency"] = saliency.saliency_table(all_models, x[:SALIENCY_IMAGES], y[:SALIENCY_IMAGES], mean, std)
    path, scores = model_figures.confusion_figure(clean, x, y, out / "confusion.png", f"clean, seed {first}")
    tables["confusion"] = scores
    add("confusion", path, "Confusion matrix, per-class precision, recall, F1",
        f"Clean model, seed {first}, on the test set; macro F1 {100 * scores['macro_f1']:.2f}%.")
    path, wrong = model_figures.misclassified(clean, x, y, mean, std, out / "misclassified.png", f"clean, seed {first}")
    add("misclassified", path, "Misclassified digits", f"{wrong} test digits the clean model gets wrong; the first 40.")
    train_x, train_y = splits.train.tensors
    add("data examples", model_figures.data_examples(train_x, train_y, mean, std, out / "data_examples.png", RATES, seed=first),
        "The training data variants and the two features",
        "Pixel jitter flips a pixel's state (off to fully on, on to off); label corruption moves a label to another class.")
