"""``lenet-parity infer``: a checkpoint on the test set with any backend: accuracy, throughput, confusion matrix.

``compare="torch"`` also runs torch's LeNet (reference/model.py) on the same checkpoint in the same dtype and
lists every test image whose predicted class differs, with both top-2 log-probability margins: a difference
is a near-tie when torch's margin is within the output tolerance of zero (harness/tolerances.py).
"""

from __future__ import annotations

import contextlib
import gc

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lenet_parity.errors import UserInputError
from lenet_parity.custom_lenet.model import check_backend
from lenet_parity.harness.tolerances import tolerance
from lenet_parity.vocabulary import NUMPY, PYTHON, TORCH, TRAIN_BACKENDS, default_dtype

DEFAULT_BATCH = {TORCH: 1000, NUMPY: 1000, PYTHON: 50}  # python: nested lists of 1000 images are ~GBs


@dataclass
class Disagreement:
    index: int  # position in the test set
    label: int
    ours: int  # our predicted class
    torch: int
    margin_ours: float  # top-1 minus top-2 log-probability
    margin_torch: float
    near_tie: bool


@dataclass
class InferResult:
    backend: str
    dtype: str
    checkpoint: Path
    n: int
    correct: int
    seconds: float  # forward passes only (input conversion included), not data loading
    confusion: np.ndarray  # (classes, classes): rows true class, columns predicted
    compare: str | None = None
    compare_correct: int | None = None
    disagreements: list[Disagreement] = field(default_factory=list)
    tie_tolerance: float | None = None

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    @property
    def images_per_second(self) -> float:
        return self.n / self.seconds

    @property
    def ms_per_image(self) -> float:
        return 1000 * self.seconds / self.n

    @property
    def passed(self) -> bool:
        """No disagreement with torch, or only near-ties (always True without --compare)."""
        return all(d.near_tie for d in self.disagreements)

    def confusion_table(self) -> str:
        k = len(self.confusion)
        width = max(5, len(str(int(self.confusion.max()))) + 1)
        lines = ["true \\ predicted".ljust(17) + "".join(f"{c:>{width}}" for c in range(k))]
        lines += [f"{t:<17}" + "".join(f"{int(v):>{width}}" for v in row) for t, row in enumerate(self.confusion)]
        return "\n".join(lines)

    def report(self, *, max_listed: int = 50) -> str:
        lines = [f"{self.backend} {self.dtype} on {self.checkpoint}: test accuracy {100 * self.accuracy:.2f}% "
                 f"({self.correct}/{self.n})",
                 f"throughput: {self.images_per_second:,.0f} images/s, {self.ms_per_image:.4f} ms/image "
                 f"({self.seconds:.2f} s of forward passes)",
                 "confusion matrix:", self.confusion_table()]
        if self.compare:
            ties = sum(d.near_tie for d in self.disagreements)
            lines.append(f"vs {self.compare} {self.dtype} on the same checkpoint: {self.compare} accuracy "
                         f"{100 * self.compare_correct / self.n:.2f}%; {len(self.disagreements)} of {self.n} "
                         f"predictions differ ({ties} near-ties: torch's top-2 margin <= {self.tie_tolerance:.1e})")
            if self.disagreements:
                lines.append(f"  {'image':>6} {'label':>5} {'ours':>5} {'torch':>5} {'margin ours':>13} {'margin torch':>13}")
                for d in self.disagreements[:max_listed]:
                    lines.append(f"  {d.index:>6} {d.label:>5} {d.ours:>5} {d.torch:>5} {d.margin_ours:13.3e} "
                                 f"{d.margin_torch:13.3e}{'  near-tie' if d.near_tie else '  NOT a near-tie'}")
                if len(self.disagreements) > max_listed:
                    lines.append(f"  ... and {len(self.disagreements) - max_listed} more")
            if self.passed:
                tail = " except near-ties" if self.disagreements else ""
                lines.append(f"OK   {self.backend} predicts torch's class on every test image{tail}")
            else:
                lines.append(f"FAIL {sum(not d.near_tie for d in self.disagreements)} differences are not near-ties")
        return "\n".join(lines)


def _predictor(backend: str, weights, dtype: str) -> Callable[[Any], np.ndarray]:
    """A function from a torch batch to float64 log-probabilities, in evaluation mode."""
    if backend == "torch":
        import torch

        from lenet_parity.reference.weights import build_torch_model

        model = build_torch_model(weights).to(getattr(torch, dtype)).eval()

        def run(x):
            with torch.no_grad():
                return model(x.to(getattr(torch, dtype))).numpy().astype(np.float64)
        return run
    from lenet_parity.custom_lenet.model import CustomLeNet

    model = CustomLeNet.from_weights(backend, weights, dtype).eval()
    return lambda x: np.asarray(model.forward(x), dtype=np.float64)


def _logp(run: Callable[[Any], np.ndarray], x, batch_size: int, progress: bool, desc: str) -> tuple[np.ndarray, float]:
    from tqdm import tqdm

    chunks, seconds = [], 0.0
    for start in tqdm(range(0, len(x), batch_size), desc=desc, disable=None if progress else True, leave=False, unit="batch"):
        batch = x[start:start + batch_size]
        t = time.perf_counter()
        chunks.append(run(batch))
        seconds += time.perf_counter() - t
    return np.concatenate(chunks), seconds


def load_test_set(dataset: str, data_root: str | os.PathLike):
    """The normalised test images (a float32 torch tensor) and their labels (an int64 numpy array)."""
    from lenet_parity.reference.datasets import load_splits

    x, y = load_splits(dataset, data_root).test.tensors
    return x, y.numpy()


def top2_margin(logp: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 log-probability per row: how far a prediction is from a tie."""
    part = np.sort(logp, axis=1)
    return part[:, -1] - part[:, -2]


@contextlib.contextmanager
def long_lived_objects_frozen():
    """The objects alive now (torch's ~180k from its import) moved out of the garbage collector's sight.

    The pure-Python forward makes millions of floats and lists, so the collector runs often; each full
    collection would scan torch's import-time objects again, which never become garbage (measured: 12.4 ->
    8.2 ms per image). The collector stays on for everything the forward itself creates.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def infer(backend: str, checkpoint: str | os.PathLike, *, dtype: str | None = None, data_root: str | os.PathLike = "data",
          dataset: str = "mnist", limit: int | None = None, batch_size: int | None = None, compare: str | None = None,
          confusion_png: str | os.PathLike | None = None, progress: bool = True) -> InferResult:
    """Evaluate ``checkpoint`` (weights JSON) on the test set; ``dtype`` defaults to float64 for python, else float32."""
    from lenet_parity.reference.weights import read_weights

    if backend not in TRAIN_BACKENDS:
        raise UserInputError(f"unknown backend {backend!r}; choose one of {', '.join(TRAIN_BACKENDS)}")
    if compare not in (None, "torch"):
        raise UserInputError(f"--compare {compare!r}: only 'torch' can be compared against")
    dtype = dtype or default_dtype(backend)
    if backend != TORCH:
        check_backend(backend, dtype)
    weights = read_weights(checkpoint)
    x, labels = load_test_set(dataset, data_root)
    if limit is not None:
        x, labels = x[:limit], labels[:limit]
    batch_size = batch_size or DEFAULT_BATCH[backend]
    with long_lived_objects_frozen():
        logp, seconds = _logp(_predictor(backend, weights, dtype), x, batch_size, progress, f"{backend} infer")
    predicted = logp.argmax(axis=1)  # the first maximum on a tie, as torch.argmax
    k = weights.config.num_classes
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    result = InferResult(backend, dtype, Path(checkpoint), len(labels), int((predicted == labels).sum()), seconds,
                         confusion)
    if compare:
        ref, _ = _logp(_predictor("torch", weights, dtype), x, DEFAULT_BATCH["torch"], progress, "torch infer")
        ref_predicted = ref.argmax(axis=1)
        tol = tolerance(dtype, "output")
        ours_m, ref_m = top2_margin(logp), top2_margin(ref)
        result.compare, result.compare_correct = compare, int((ref_predicted == labels).sum())
        # two logits each within the output tolerance of torch's can swap order only if torch's margin is
        # within twice that tolerance
        result.tie_tolerance = 2 * (tol.atol + tol.rtol * float(np.abs(ref).max()))
        for i in np.flatnonzero(predicted != ref_predicted):
            result.disagreements.append(Disagreement(int(i), int(labels[i]), int(predicted[i]), int(ref_predicted[i]),
                                                     float(ours_m[i]), float(ref_m[i]),
                                                     bool(ref_m[i] <= result.tie_tolerance)))
    if confusion_png is not None:
        plot_confusion(result, Path(confusion_png))
    return result


def plot_confusion(result: InferResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(np.log1p(result.confusion), cmap="Blues")
    for (t, p), v in np.ndenumerate(result.confusion):
        if v:
            ax.text(p, t, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > result.confusion.max() / 2 else "black")
    k = len(result.confusion)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{result.backend} {result.dtype}: {100 * result.accuracy:.2f}% on {result.n} test images")
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
