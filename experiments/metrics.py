"""Metrics of a trained classifier from its class probabilities: calibration (ECE), confidence margins, P/R/F1.

All functions take probabilities (N, K) and labels (N,) as torch tensors and return plain Python numbers.
"""

from __future__ import annotations

from typing import Any

import torch

ECE_BINS = 15  # equal-width confidence bins, the usual choice (Guo et al. 2017)
MARGIN_BINS = 50  # histogram of margins on [0, 1]


def _check(probs: torch.Tensor, labels: torch.Tensor) -> None:
    if probs.dim() != 2 or labels.dim() != 1 or len(probs) != len(labels) or len(labels) == 0:
        raise ValueError(f"need probabilities (N, K) and labels (N,), N > 0; got {tuple(probs.shape)} and {tuple(labels.shape)}")


def calibration(probs: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> dict[str, Any]:
    """Expected calibration error and the reliability bins.

    confidence = max probability; bin b holds confidences in (b/B, (b+1)/B];
    ECE = sum_b |B_b| / N * |accuracy(B_b) - mean confidence(B_b)|.
    """
    _check(probs, labels)
    probs = probs.double()
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).double()
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    ece, rows = 0.0, []
    for b in range(bins):
        lo, hi = float(edges[b]), float(edges[b + 1])
        inside = (confidence > lo) & (confidence <= hi)
        count = int(inside.sum())
        if count == 0:
            rows.append({"lo": lo, "hi": hi, "count": 0, "accuracy": None, "confidence": None})
            continue
        acc, conf = float(correct[inside].mean()), float(confidence[inside].mean())
        ece += count / len(labels) * abs(acc - conf)
        rows.append({"lo": lo, "hi": hi, "count": count, "accuracy": acc, "confidence": conf})
    return {"ece": ece, "bins": rows}


def margins(probs: torch.Tensor) -> torch.Tensor:
    """Confidence margin of each prediction: top-1 minus top-2 probability, in [0, 1]; (N,)."""
    if probs.dim() != 2 or probs.shape[1] < 2:
        raise ValueError(f"margins need probabilities (N, K >= 2), got {tuple(probs.shape)}")
    top = probs.topk(2, dim=1).values  # (N, 2)
    return top[:, 0] - top[:, 1]


def margin_summary(probs: torch.Tensor, bins: int = MARGIN_BINS) -> dict[str, Any]:
    """The margin distribution: quantiles, mean, fraction below 0.5, and a histogram on [0, 1]."""
    m = margins(probs).double()
    q = torch.quantile(m, torch.tensor([0.05, 0.25, 0.5, 0.75], dtype=torch.float64)).tolist()
    return {"mean": float(m.mean()), "q05": q[0], "q25": q[1], "median": q[2], "q75": q[3],
            "below_0.5": float((m < 0.5).double().mean()),
            "hist": torch.histc(m, bins=bins, min=0.0, max=1.0).long().tolist(), "hist_range": [0.0, 1.0]}


def confusion(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K, K) counts: row = true class, column = predicted class."""
    return torch.bincount(labels * num_classes + predicted, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def per_class_scores(matrix: torch.Tensor) -> dict[str, Any]:
    """Precision, recall and F1 per class from a confusion matrix, and their macro averages (0 where undefined)."""
    m = matrix.double()
    tp = m.diag()
    predicted, actual = m.sum(0), m.sum(1)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(actual > 0, tp / actual.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-300), torch.zeros_like(tp))
    return {"precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
            "support": actual.long().tolist(), "macro_precision": float(precision.mean()),
            "macro_recall": float(recall.mean()), "macro_f1": float(f1.mean()),
            "accuracy": float(tp.sum() / m.sum())}


@torch.no_grad()
def predict_logp(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Log-probabilities of a model (LeNet ends in LogSoftmax), in evaluation mode; (N, K)."""
    model.eval()
    return torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def evaluate_logp(logp: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    """Everything metrics.json holds for one run's test set, from its log-probabilities."""
    _check(logp, labels)
    probs = logp.exp()
    nll = float(-logp.double().gather(1, labels[:, None]).mean())
    calib = calibration(probs, labels)
    return {"test_acc": float((probs.argmax(1) == labels).double().mean()), "test_nll": nll,
            "ece": calib["ece"], "reliability": calib["bins"], "margin": margin_summary(probs),
            "mean_confidence": float(probs.max(1).values.double().mean())}
