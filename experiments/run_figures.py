"""Figures drawn from the sweeps' tables and logs: curves, time per epoch, robustness, margins, calibration, drift, batch size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lenet_parity.experiments.plotting import read_log, save, subplots, variant_colour


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
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncol=9, fontsize=8)
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
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncol=9, fontsize=8)
    groups = list(dict.fromkeys(r["group"] for r in runs))
    means = [np.mean([r["seconds_per_epoch"] for r in runs if r["group"] == g]) for g in groups]
    stds = [np.std([r["seconds_per_epoch"] for r in runs if r["group"] == g]) for g in groups]
    right.barh(groups, means, xerr=stds, color=[variant_colour(g) for g in groups])
    right.invert_yaxis()
    right.set(xlabel="mean seconds per epoch (± std over seeds)", title="per variant")
    fig.suptitle("one thread per run, two runs at a time on a shared two-core machine: compare within a sweep, "
                 "not with other machines", fontsize=9)
    return save(fig, path)


def _family(table, kind):
    clean = [r for r in table if r["kind"] == "clean"]
    rows = clean + sorted((r for r in table if r["kind"] == kind), key=lambda r: r["rate"])
    return [100 * r["rate"] for r in rows], rows


def robustness(table: list[dict[str, Any]], runs: list[dict[str, Any]], path: Path, threshold: float = 0.97) -> Path:
    """Test accuracy (zoomed on 94-100%), validation loss and ECE against the rate: the mean and every run."""
    fig, axes = subplots(1, 3, figsize=(16, 4.4))
    low = 94.0
    for kind, colour, label, dx in (("jitter", "tab:blue", "pixel jitter", -0.25), ("corrupt", "tab:red",
                                                                                    "label corruption", 0.25)):
        x, rows = _family(table, kind)
        members = [r for r in runs if r["variant"] in ("clean", kind)]
        for ax, key, scale in zip(axes, ("test_acc", "val_loss", "ece"), (100, 1, 1)):
            ax.plot(x, [scale * r[key] for r in rows], "-", color=colour, label=f"{label} (mean)")
            values = [scale * r[key] for r in members]
            if key == "test_acc":
                values = [max(v, low + 0.05) for v in values]  # runs below the zoom sit on its floor, marked
            ax.scatter([100 * r["rate"] + dx for r in members], values, s=14, color=colour, alpha=0.7,
                       marker="o", label=f"{label} (each run)")
        below: dict[tuple[float, str], int] = {}
        for r in members:
            if 100 * r["test_acc"] < low:
                key = (r["rate"], f"{100 * r['test_acc']:.1f}%")
                below[key] = below.get(key, 0) + 1
        for (rate, text), count in below.items():
            axes[0].annotate(f"{count} x {text}" if count > 1 else text, (100 * rate + dx, low + 0.05), xytext=(-40, 12),
                             textcoords="offset points", fontsize=7, color=colour,
                             arrowprops=dict(arrowstyle="->", color=colour))
    axes[0].axhline(100 * threshold, color="grey", ls="--", lw=1, label=f"{100 * threshold:.0f}% (the claim)")
    axes[0].set(xlabel="rate %", ylabel="test accuracy %", ylim=(low, 100), title="test accuracy (zoom: 94-100%)")
    axes[1].set(xlabel="rate %", ylabel="validation loss (clean labels)", yscale="log", title="validation loss")
    axes[2].set(xlabel="rate %", ylabel="expected calibration error", title="calibration (ECE, 15 bins)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"robustness: lines the mean over {max(r['seeds'] for r in table)} seed(s), dots every run")
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


def reliability(runs: list[dict[str, Any]], groups: list[str], path: Path) -> Path:
    """Reliability diagrams (accuracy against confidence per bin) of the first seed's runs of ``groups``."""
    chosen = sorted((r for r in _first_seed(runs) if r["group"] in groups), key=lambda r: groups.index(r["group"]))
    fig, axes = subplots(1, len(chosen), figsize=(4.6 * len(chosen), 4.2), squeeze=False)
    for ax, run in zip(axes[0], chosen):
        m = _metrics(run)
        bins = [b for b in m["reliability"] if b["count"]]
        centres = [(b["lo"] + b["hi"]) / 2 for b in bins]
        ax.bar(centres, [b["accuracy"] for b in bins], width=1 / len(m["reliability"]), edgecolor="black",
               color=variant_colour(run["group"]), alpha=0.7, label="accuracy")
        ax.plot([b["confidence"] for b in bins], [b["confidence"] for b in bins], "k.", label="mean confidence")
        for centre, b in zip(centres, bins):  # a bar of 3 images says little: show how many
            ax.text(centre, 0.02, f"n={b['count']}", rotation=90, ha="center", va="bottom", fontsize=6,
                    color="white" if b["accuracy"] > 0.2 else "black")
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (max probability)", ylabel="accuracy",
               title=f"{run['group']}: ECE {m['ece']:.4f}")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=8)
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
    ax.margins(x=0.08, y=0.15)  # room for the epoch labels
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set(xlabel="batch size (learning rate 0.01 for all)", ylabel="test accuracy %",
           title=f"accuracy against batch size ({max(r['seeds'] for r in table)} seed(s))")
    return save(fig, path)
