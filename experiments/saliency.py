"""Input-gradient saliency: d logit[label] / d x for each model on the same test digits, as maps and as numbers.

The logit is fc3's output (before LogSoftmax), the class score of Simonyan et al. (2014). The numbers put the
seed report's qualitative reading of such maps ("focused", "fragmented", "diffuse") to a test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lenet_parity.experiments.features import raw_pixels
from lenet_parity.experiments.plotting import save, subplots

STROKE = 0.1  # a raw pixel above this is ink; the stroke mask is the ink grown by one pixel
TOP_FRACTION = 0.1  # "peakedness": the share of |gradient| in the top 10% of pixels


def input_gradients(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """d fc3(x)[label] / d x for each image, in evaluation mode; (N, C, H, W)."""
    captured = {}
    handle = model.fc3.register_forward_hook(lambda module, inputs, output: captured.__setitem__("logits", output))
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    try:
        model(x)
    finally:
        handle.remove()
    logits = captured["logits"]  # (N, K)
    (grad,) = torch.autograd.grad(logits.gather(1, labels[:, None]).sum(), x)
    return grad


def saliency_stats(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, mean, std) -> dict[str, float]:
    """Mean over images of: the share of |gradient| on the stroke (ink grown by one pixel) and in the top 10% pixels."""
    g = input_gradients(model, x, labels).abs().flatten(1).double()  # (N, C*H*W)
    ink = (raw_pixels(x, mean, std) > STROKE).to(torch.float32)
    stroke = F.max_pool2d(ink, 3, stride=1, padding=1).flatten(1).bool()  # (N, C*H*W)
    total = g.sum(1).clamp(min=1e-300)
    k = max(1, round(TOP_FRACTION * g.shape[1]))
    on_stroke = (g * stroke).sum(1) / total
    peaked = g.topk(k, dim=1).values.sum(1) / total
    return {"on_stroke": float(on_stroke.mean()), "on_stroke_std": float(on_stroke.std()),
            "stroke_area": float(stroke.double().mean()), "top10_share": float(peaked.mean()), "images": len(x)}


def pick_digits(labels: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """The first test image of each class, in class order: the same digits for every model."""
    return torch.stack([(labels == c).nonzero()[0, 0] for c in range(classes) if (labels == c).any()])


def saliency_figure(models: dict[str, torch.nn.Module], x: torch.Tensor, labels: torch.Tensor, mean, std,
                    path: Path) -> Path:
    """Rows: the digits, then per model its raw gradient (signed, RdBu centred at 0) and |gradient|."""
    n = len(x)
    fig, axes = subplots(1 + 2 * len(models), n, figsize=(n * 1.3, (1 + 2 * len(models)) * 1.4), squeeze=False)
    raw = raw_pixels(x, mean, std)
    for c in range(n):
        axes[0, c].imshow(raw[c, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
        axes[0, c].set_title(f"label {int(labels[c])}", fontsize=8)
    axes[0, 0].set_ylabel("digit", fontsize=8)
    for m, (name, model) in enumerate(models.items()):
        g = input_gradients(model, x, labels)[:, 0].numpy()  # (N, H, W): one channel
        for c in range(n):
            limit = float(np.abs(g[c]).max()) or 1.0  # each map on its own scale, centred at 0
            axes[1 + 2 * m, c].imshow(g[c], cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes[2 + 2 * m, c].imshow(np.abs(g[c]), cmap="inferno", vmin=0, vmax=limit)
        axes[1 + 2 * m, 0].set_ylabel(f"{name}\nraw", fontsize=8)
        axes[2 + 2 * m, 0].set_ylabel(f"{name}\n|grad|", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle("input gradients d logit[label] / d x; raw: red positive, blue negative, white 0; "
                 "each map scaled to its own max |grad|", fontsize=9)
    return save(fig, path)


def saliency_table(models_by_variant: dict[str, list[torch.nn.Module]], x: torch.Tensor, labels: torch.Tensor,
                   mean, std) -> list[dict[str, Any]]:
    """saliency_stats per variant, averaged over its seeds' models."""
    rows = []
    for variant, models in models_by_variant.items():
        stats = [saliency_stats(m, x, labels, mean, std) for m in models]
        rows.append({"variant": variant, "models": len(models),
                     **{k: float(np.mean([s[k] for s in stats])) for k in ("on_stroke", "top10_share", "stroke_area")}})
    return rows
