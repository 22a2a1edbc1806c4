"""Metrics of the experiments on hand-computed examples: ECE, margins, P/R/F1, weight drift, the claim verdict."""

import math

import pytest
import torch

from lenet_parity.harness.compare import assert_match
from lenet_parity.experiments.drift import ALL, drift_metrics, layer_vectors, summarise
from lenet_parity.experiments.metrics import calibration, confusion, margins, per_class_scores
from lenet_parity.experiments.robustness import aggregate, assess_claim


def close(actual, expected, name):
    """Float64 arithmetic on a handful of numbers: the table's float64 output tolerance."""
    assert_match([float(a) for a in actual], [float(e) for e in expected], dtype="float64", tensor="output", name=name)


def test_ece_on_a_hand_computed_example():
    # confidences 0.9 (right), 0.9 (wrong), 0.65 (right), 0.55 (wrong); 15 bins of width 1/15
    probs = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.65, 0.35], [0.45, 0.55]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 0])
    result = calibration(probs, labels)
    # bin (13/15, 14/15]: both 0.9, accuracy 1/2 -> 2/4 * |0.5 - 0.9| = 0.2
    # bin (9/15, 10/15]: 0.65 right -> 1/4 * 0.35;  bin (8/15, 9/15]: 0.55 wrong -> 1/4 * 0.55
    close([result["ece"]], [0.2 + 0.35 / 4 + 0.55 / 4], "ece")
    counts = [b["count"] for b in result["bins"]]
    assert sum(counts) == 4 and counts[13] == 2 and counts[9] == 1 and counts[8] == 1


def test_every_prediction_lands_in_a_bin_even_at_confidence_one():
    # bins are (lo, hi]: a confidence of exactly 1 is in the last bin, and the counts add up to N
    probs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], dtype=torch.float64)
    result = calibration(probs, torch.tensor([0, 0, 0]))
    counts = [b["count"] for b in result["bins"]]
    assert sum(counts) == 3 and counts[14] == 2 and counts[7] == 1  # 0.5 is in (7/15, 8/15]
    # last bin: confidence 1, accuracy 1/2 -> 2/3 * 0.5; the tie at 0.5 predicts class 0, right -> 1/3 * 0.5
    close([result["ece"]], [2 / 3 * 0.5 + 1 / 3 * 0.5], "ece")


def test_ece_is_zero_when_confidence_matches_accuracy():
    # four predictions at 0.75 confidence, three right: perfectly calibrated
    probs = torch.tensor([[0.75, 0.25]] * 4, dtype=torch.float64)
    close([calibration(probs, torch.tensor([0, 0, 0, 1]))["ece"]], [0.0], "ece")


def test_margins_and_bad_shapes():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.05, 0.9, 0.05]], dtype=torch.float64)
    close(margins(probs), [0.7 - 0.2, 0.4 - 0.3, 0.9 - 0.05], "margins")
    with pytest.raises(ValueError):
        calibration(probs, torch.tensor([0, 1]))
    with pytest.raises(ValueError):
        margins(torch.tensor([[1.0], [1.0]]))


def test_precision_recall_f1_from_a_known_confusion_matrix():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 0, 1, 1, 2, 2])
    matrix = confusion(predicted, labels, 3)
    assert matrix.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    s = per_class_scores(matrix)
    close(s["precision"], [1.0, 0.5, 0.5], "precision")
    close(s["recall"], [2 / 3, 0.5, 1.0], "recall")
    f1 = [2 * 1 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 * 1 / 1.5]
    close(s["f1"], f1, "f1")
    close([s["macro_f1"], s["accuracy"]], [sum(f1) / 3, 4 / 6], "macro f1, accuracy")


def test_drift_metrics_on_known_weights():
    reference = layer_vectors({"fc.weight": torch.tensor([[3.0, 4.0]]), "fc.bias": torch.tensor([0.0]),
                               "conv.weight": torch.tensor([1.0, 0.0]), "bn.running_mean": torch.tensor([9.0]),
                               "bn.num_batches_tracked": torch.tensor(3)})
    assert sorted(reference) == ["conv", "fc"]  # buffers are not learned weights
    same = drift_metrics(reference, reference)
    assert all(r["l2"] == 0 and r["rel_change"] == 0 for r in same)
    close([r["cos_sim"] for r in same], [1.0] * len(same), "cos_sim")
    moved = layer_vectors({"fc.weight": torch.tensor([[4.0, -3.0]]), "fc.bias": torch.tensor([0.0]),
                           "conv.weight": torch.tensor([2.0, 0.0])})
    rows = {r["layer"]: r for r in drift_metrics(moved, reference)}
    # fc: (4, -3, 0) vs (3, 4, 0): distance sqrt(1 + 49), norm 5, orthogonal
    close([rows["fc"][k] for k in ("l2", "rel_change", "cos_sim")], [math.sqrt(50), math.sqrt(50) / 5, 0.0], "fc")
    # conv: (2, 0) vs (1, 0): twice as long, same direction
    close([rows["conv"][k] for k in ("l2", "rel_change", "cos_sim")], [1.0, 1.0, 1.0], "conv")
    # all: (4, -3, 0, 2, 0) vs (3, 4, 0, 1, 0): distance sqrt(51), norm sqrt(26), dot 12 - 12 + 2 = 2
    close([rows[ALL][k] for k in ("l2", "rel_change", "cos_sim")],
          [math.sqrt(51), math.sqrt(51 / 26), 2 / (math.sqrt(29) * math.sqrt(26))], "all layers")
    with pytest.raises(ValueError, match="different layers"):
        drift_metrics({"fc": torch.zeros(3)}, reference)


def test_drift_summary_is_mean_and_sample_std_over_seeds():
    rows = [{"variant": "v", "seed": s, "layer": "fc", "l2": l2, "rel_change": 0.1, "cos_sim": 0.9}
            for s, l2 in ((1, 1.0), (2, 3.0))]
    (row,) = summarise(rows)
    assert row["seeds"] == 2
    close([row["l2"], row["l2_std"]], [2.0, math.sqrt(2)], "mean, std")


def run_row(group, kind, rate, seed, acc, val_loss):
    return {"group": group, "variant": kind, "rate": rate, "seed": seed, "test_acc": acc, "val_loss": val_loss,
            "test_loss": val_loss, "ece": 0.01, "margin_mean": 0.9, "margin_median": 0.99, "margin_below_0.5": 0.02,
            "epochs_run": 8, "seconds_per_epoch": 10.0}


def test_claim_needs_every_run_above_97_and_the_loss_doubled():
    rows = [run_row("clean", "clean", 0.0, s, 0.99, 0.03) for s in (1, 2)]
    rows += [run_row("corrupt-20pct", "corrupt", 0.2, s, acc, 0.2) for s, acc in ((1, 0.98), (2, 0.975))]
    rows += [run_row("jitter-20pct", "jitter", 0.2, s, acc, 0.04) for s, acc in ((1, 0.99), (2, 0.965))]
    table = aggregate(rows)
    assert [r["variant"] for r in table] == ["clean", "corrupt-20pct", "jitter-20pct"]
    verdict = assess_claim(table)["families"]
    assert verdict["corrupt"]["holds"] is True
    close([verdict["corrupt"]["val_loss_ratio"]], [0.2 / 0.03], "loss ratio")
    # jitter: one seed below 97% (the mean 97.75% would hide it) and the loss up by only 1.33x
    assert verdict["jitter"]["holds"] is False
    assert not verdict["jitter"]["accuracy_holds"] and not verdict["jitter"]["loss_holds"]
    assert verdict["jitter"]["lowest_acc"] == 0.965
