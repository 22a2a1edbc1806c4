"""Figures drawn from the sweeps' tables and logs: curves, time per epoch, robustness, margins, calibration, drift, batch size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lenet_parity.harness.experiments.plotting import read_log, save, subplots, variant_colour


def _first_seed(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seed = min(r["seed"] for r in runs)
    return [r for r in runs if r["seed"] == seed]


def curves(runs: list[dict[str, Any]], path: Path) -> Path:
    """Training loss (every log_every batches), validation loss and accuracy per epoch, one line per variant."""
    fig, axes = subplots(1, 3, figsize=(16, 4.4))
    for run in _first_seed(runs):
        log, colour = read_log(Path(run["run_dir"])), variant_colour(run["group"])
        batches = [r for r in log if r["kind"] == "batch"]
        epochs = [r for r in log if r["kind"] == "epoch"]
        axes[0].plot([int(r["step"]) for r in batches], [float(r["train_loss"]) for r in batches], color=colour,
                     lw=1, label=run["group"])
        e = [int(r["epoch"]) for r in epochs]
        axes[1].plot(e, [float(r["val_loss"]) for r in epochs], "o-", color=colour, ms=3, label=run["group"])
        axes[2].plot(e, [100 * float(r["val_acc"]) for r in epochs], "o-", color=colour, ms=3, label=run["group"])
    axes[0].set(xlabel="step (batch)", ylabel="training loss (on the corrupted labels)", yscale="log",
                title="training loss")
    axes[1].set(xlabel="epoch", ylabel="validation loss (clean labels)", title="validation loss")
    axes[2].set(xlabel="epoch", ylabel="validation accuracy %", title="validation accuracy")
    axes[2].legend(fontsize=7, ncol=2)
    fig.suptitle(f"training curves, seed {min(r['seed'] for r in runs)}")
    return save(fig, path)


def epoch_time(runs: list[dict[str, Any]], path: Path) -> Path:
    """Seconds per epoch: every epoch of the first seed, and each variant's mean over all its epochs and seeds."""
    fig, (left, right) = subplots(1, 2, figsize=(13, 4), gridspec_kw={"width_ratios": [3, 2]})
    for run in _first_seed(runs):
        epochs = [r for r in read_log(Path(run["run_dir"])) if r["kind"] == "epoch"]
        left.plot([int(r["epoch"]) for r in epochs], [float(r["epoch_seconds"]) for r in epochs], "o-", ms=3,
                  color=variant_colour(run["group"]), label=run["group"])
    left.set(xlabel="epoch", ylabel="seconds", title=f"time per epoch, seed {min(r['seed'] for r in runs)}")
    left.legend(fontsize=7, ncol=2)
    groups = list(dict.fromkeys(r["group"] for r in runs))
    means = [np.mean([r["seconds_per_epoch"] for r in runs if r["group"] == g]) for g in groups]
    stds = [np.std([r["seconds_per_epoch"] for r in runs if r["group"] == g]) for g in groups]
    right.barh(groups, means, xerr=stds, color=[variant_colour(g) for g in groups])
    right.invert_yaxis()
    right.set(xlabel="mean seconds per epoch (± std over seeds)", title="per variant")
    fig.text(0.01, -0.04, "one thread per run, two runs at a time on a shared two-core machine: compare within "
             "a sweep, not with other machines", fontsize=8)
    return save(fig, path)


def _family(table, kind):
    clean = [r for r in table if r["kind"] == "clean"]
    rows = clean + sorted((r for r in table if r["kind"] == kind), key=lambda r: r["rate"])
    return [100 * r["rate"] for r in rows], rows


def robustness(table: list[dict[str, Any]], path: Path, threshold: float = 0.97) -> Path:
    """Test accuracy, validation loss and ECE against the jitter / corruption rate (mean ± std over seeds)."""
    fig, axes = subplots(1, 3, figsize=(16, 4.2))
    for kind, colour, label in (("jitter", "tab:blue", "pixel jitter"), ("corrupt", "tab:red", "label corruption")):
        x, rows = _family(table, kind)
        for ax, key, scale in zip(axes, ("test_acc", "val_loss", "ece"), (100, 1, 1)):
            y = [scale * r[key] for r in rows]
            err = [scale * (r[f"{key}_std"] or 0) for r in rows]
            ax.errorbar(x, y, yerr=err, fmt="o-", color=colour, capsize=3, label=label)
    axes[0].axhline(100 * threshold, color="grey", ls="--", lw=1, label=f"{100 * threshold:.0f}% (the claim)")
    axes[0].set(xlabel="rate %", ylabel="test accuracy %", title="test accuracy")
    axes[1].set(xlabel="rate %", ylabel="validation loss (clean labels)", title="validation loss")
    axes[2].set(xlabel="rate %", ylabel="expected calibration error", title="calibration (ECE, 15 bins)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"robustness: mean ± std over {max(r['seeds'] for r in table)} seeds")
    return save(fig, path)


def _metrics(run) -> dict[str, Any]:
    return json.loads((Path(run["run_dir"]) / "metrics.json").read_text())


def margins(runs: list[dict[str, Any]], path: Path) -> Path:
    """Distribution of test-set confidence margins (top-1 minus top-2 probability), pooled over seeds."""
    fig, axes = subplots(1, 2, figsize=(14, 4.2), sharey=True)
    groups = list(dict.fromkeys(r["group"] for r in runs))
    for ax, kind in zip(axes, ("jitter", "corrupt")):
        for g in groups:
            if not (g == "clean" or g.startswith(kind)):
                continue
            hist = np.sum([_metrics(r)["margin"]["hist"] for r in runs if r["group"] == g], axis=0)
            edges = np.linspace(0, 1, len(hist) + 1)
            ax.stairs(hist / hist.sum(), edges, color=variant_colour(g), lw=1.5, label=g)
        ax.set(xlabel="confidence margin p(top-1) - p(top-2)", ylabel="fraction of test images", yscale="log",
               title=f"clean vs {'pixel jitter' if kind == 'jitter' else 'label corruption'}")
        ax.legend(fontsize=8, loc="upper left")
    return save(fig, path)


def reliability(runs: list[dict[str, Any]], path: Path) -> Path:
    """Reliability diagrams (accuracy against confidence per bin) for clean and the 20% variants, first seed."""
    chosen = [r for r in _first_seed(runs) if r["group"] in ("clean", "jitter-20pct", "corrupt-20pct")]
    fig, axes = subplots(1, len(chosen), figsize=(4.6 * len(chosen), 4.2), squeeze=False)
    for ax, run in zip(axes[0], chosen):
        m = _metrics(run)
        bins = [b for b in m["reliability"] if b["count"]]
        centres = [(b["lo"] + b["hi"]) / 2 for b in bins]
        ax.bar(centres, [b["accuracy"] for b in bins], width=1 / len(m["reliability"]), edgecolor="black",
               color=variant_colour(run["group"]), alpha=0.7, label="accuracy")
        ax.plot([b["confidence"] for b in bins], [b["confidence"] for b in bins], "k.", label="mean confidence")
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (max probability)", ylabel="accuracy",
               title=f"{run['group']}: ECE {m['ece']:.4f}")
        ax.legend(fontsize=8, loc="lower right")
    return save(fig, path)


def drift(table: list[dict[str, Any]], path: Path) -> Path:
    """Per-layer relative change and cosine similarity of each variant's weights against the clean model's."""
    layers = list(dict.fromkeys(r["layer"] for r in table))
    variants = [v for v in dict.fromkeys(r["variant"] for r in table)]
    fig, axes = subplots(1, 2, figsize=(14, 4.2))
    for v in variants:
        rows = {r["layer"]: r for r in table if r["variant"] == v}
        style = dict(color="grey", ls=":", marker="s") if v.startswith("clean") else dict(color=variant_colour(v), marker="o")
        for ax, key in zip(axes, ("rel_change", "cos_sim")):
            ax.plot(layers, [rows[layer][key] for layer in layers], label=v, ms=4, **style)
    axes[0].set(ylabel="||w - w_clean|| / ||w_clean||", title="relative change (mean over seeds)")
    axes[1].set(ylabel="cos(w, w_clean)", title="cosine similarity (mean over seeds)")
    axes[1].legend(fontsize=7, ncol=2)
    return save(fig, path)


def batch_size(table: list[dict[str, Any]], path: Path) -> Path:
    """Test accuracy (and epochs run) against the batch size, the rest of the default recipe unchanged."""
    fig, ax = subplots(figsize=(7, 4.2))
    sizes = [r["batch_size"] for r in table]
    ax.errorbar(sizes, [100 * r["test_acc"] for r in table], yerr=[100 * (r["test_acc_std"] or 0) for r in table],
                fmt="o-", capsize=3, color="tab:green")
    for r in table:
        ax.annotate(f"{r['epochs_run']:.0f} ep", (r["batch_size"], 100 * r["test_acc"]), textcoords="offset points",
                    xytext=(0, 7), ha="center", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set(xlabel="batch size (learning rate 0.01 for all)", ylabel="test accuracy %",
           title=f"accuracy against batch size ({max(r['seeds'] for r in table)} seed(s))")
    return save(fig, path)
