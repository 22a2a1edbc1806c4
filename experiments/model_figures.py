"""Figures drawn from a trained model or the data: conv kernels, confusion matrix, misclassified digits, data variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lenet_parity.experiments.features import (MNISTWithFeats, features, raw_pixels, symmetry_map)
from lenet_parity.experiments.metrics import confusion, per_class_scores, predict_logp
from lenet_parity.experiments.plotting import figure, save, subplots


def kernels(model, path: Path, title: str) -> Path:
    """conv1's 6 kernels and conv2's 16 x 6; one symmetric colour scale per layer, centred at 0."""
    w1 = model.conv1.weight.detach()[:, 0].numpy()  # (6, 5, 5): MNIST has one input channel
    w2 = model.conv2.weight.detach().numpy()  # (16, 6, 5, 5)
    fig = figure(figsize=(13, 8.5))
    grid = fig.add_gridspec(8, 16, height_ratios=[1.6, 0.25, 1, 1, 1, 1, 1, 1], hspace=0.3, wspace=0.12)
    m1, m2 = np.abs(w1).max(), np.abs(w2).max()
    top = []
    for i in range(6):
        ax = fig.add_subplot(grid[0, 2 * i + 2:2 * i + 4])
        image = ax.imshow(w1[i], cmap="RdBu_r", vmin=-m1, vmax=m1)
        ax.set_title(f"conv1[{i}]", fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
        top.append(ax)
    fig.colorbar(image, ax=top, fraction=0.02, pad=0.01)
    bottom = []
    for j in range(6):  # conv2's input channels = conv1's output channels
        for i in range(16):
            ax = fig.add_subplot(grid[2 + j, i])
            image = ax.imshow(w2[i, j], cmap="RdBu_r", vmin=-m2, vmax=m2)
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_title(f"conv2[{i}]", fontsize=7)
            if i == 0:
                ax.set_ylabel(f"in {j}", fontsize=7)
            bottom.append(ax)
    fig.colorbar(image, ax=bottom, fraction=0.02, pad=0.01)
    fig.suptitle(f"{title}: conv1 kernels (top); conv2 kernels, one column per output channel, "
                 f"one row per input channel", fontsize=11)
    return save(fig, path)


def confusion_figure(model, x: torch.Tensor, y: torch.Tensor, path: Path, title: str) -> tuple[Path, dict[str, Any]]:
    """The test confusion matrix with per-class precision, recall, F1 beside it; returns the scores too."""
    predicted = predict_logp(model, x).argmax(1)
    k = int(max(y.max(), predicted.max())) + 1
    matrix = confusion(predicted, y, k)
    scores = per_class_scores(matrix)
    fig, (ax, table_ax) = subplots(1, 2, figsize=(13, 5.6), gridspec_kw={"width_ratios": [1.15, 1]})
    shown = np.log10(matrix.numpy() + 1)
    ax.imshow(shown, cmap="Blues")
    for i in range(k):
        for j in range(k):
            count = int(matrix[i, j])
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > shown.max() * 0.6 else "black")
    ax.set(xticks=range(k), yticks=range(k), xlabel="predicted", ylabel="true",
           title=f"{title}: confusion matrix ({len(y)} test images, colour log scale)")
    cells = [[str(c), f"{100 * p:.2f}", f"{100 * r:.2f}", f"{100 * f:.2f}", str(s)]
             for c, p, r, f, s in zip(range(k), scores["precision"], scores["recall"], scores["f1"], scores["support"])]
    cells.append(["macro", f"{100 * scores['macro_precision']:.2f}", f"{100 * scores['macro_recall']:.2f}",
                  f"{100 * scores['macro_f1']:.2f}", str(len(y))])
    table_ax.axis("off")
    table = table_ax.table(cellText=cells, colLabels=["class", "precision %", "recall %", "F1 %", "support"],
                           loc="center", cellLoc="right")
    table.scale(1, 1.35)
    table_ax.set_title(f"macro F1 {100 * scores['macro_f1']:.2f}%, accuracy {100 * scores['accuracy']:.2f}%")
    return save(fig, path), scores


def misclassified(model, x: torch.Tensor, y: torch.Tensor, mean, std, path: Path, title: str,
                  limit: int = 40) -> tuple[Path, int]:
    """The first ``limit`` misclassified test digits with true label, prediction and its probability."""
    logp = predict_logp(model, x)
    predicted = logp.argmax(1)
    wrong = (predicted != y).nonzero().flatten()
    shown = wrong[:limit]
    cols = 10
    rows = max(1, -(-len(shown) // cols))
    fig, axes = subplots(rows, cols, figsize=(cols * 1.35, rows * 1.6), squeeze=False)
    raw = raw_pixels(x[shown], mean, std)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i, image in zip(axes.flat, shown.tolist(), raw):
        ax.imshow(image[0].numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{int(y[i])}→{int(predicted[i])} ({float(logp[i].exp().max()):.2f})", fontsize=8,
                     color="firebrick")
    fig.suptitle(f"{title}: {len(wrong)} of {len(y)} test digits misclassified, first {len(shown)} shown "
                 f"(true→predicted (probability))", fontsize=10)
    return save(fig, path), len(wrong)


def data_examples(x: torch.Tensor, y: torch.Tensor, mean, std, path: Path, rates, seed: int = 42) -> Path:
    """What the model trains on: base digits, their jittered versions, corrupted labels, and the two features."""
    n = 8
    rows = [("base", MNISTWithFeats(x[:n], y[:n], mean=mean, std=std, seed=seed))]
    rows += [(f"jitter {round(100 * p)}%", MNISTWithFeats(x[:n], y[:n], mean=mean, std=std, jitter=p, seed=seed)) for p in rates]
    corrupt = MNISTWithFeats(x[:400], y[:400], mean=mean, std=std, corrupt=max(rates), seed=seed)
    picked = corrupt.corrupted[:n]
    raw = raw_pixels(x[:n], mean, std)
    fig, axes = subplots(len(rows) + 3, n, figsize=(n * 1.45, (len(rows) + 3) * 1.5), squeeze=False)
    for r, (label, data) in enumerate(rows):
        for c in range(n):
            axes[r, c].imshow(raw_pixels(data.x[c:c + 1], mean, std)[0, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(label, fontsize=8)
    r = len(rows)
    for c, i in enumerate(picked.tolist()):
        axes[r, c].imshow(raw_pixels(x[i:i + 1], mean, std)[0, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
        axes[r, c].set_title(f"{int(y[i])} → {int(corrupt.y[i])}", fontsize=8, color="firebrick")
    axes[r, 0].set_ylabel(f"corrupt {round(100 * max(rates))}%", fontsize=8)
    sym = symmetry_map(raw)
    f = features(raw)
    for c in range(n):
        axes[r + 1, c].imshow(raw[c, 0].flip(-1).numpy(), cmap="gray_r", vmin=0, vmax=1)
        axes[r + 2, c].imshow(sym[c, 0].numpy(), cmap="magma", vmin=0, vmax=1)
        axes[r + 2, c].set_title(f"sym {float(f[c, 0]):.3f}\nint {float(f[c, 1]):.3f}", fontsize=7)
    axes[r + 1, 0].set_ylabel("mirror", fontsize=8)
    axes[r + 2, 0].set_ylabel("|x - mirror|", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle("training data variants (rows 1-5: the same digits), corrupted labels (true → new), "
                 "and the features: symmetry = mean |x - mirror(x)|, intensity = mean pixel", fontsize=9)
    return save(fig, path)
