"""NLLLoss and CrossEntropyLoss in pure Python, mirroring torch.nn.NLLLoss / torch.nn.CrossEntropyLoss (no class
weights): loss = mean over n of -logp[n][target[n]] (or the sum, reduction="sum"), with logp = log_softmax(logits)
for CrossEntropyLoss; ``forward(input, target) -> float``, ``backward() -> dinput``.
"""

from __future__ import annotations

from math import exp
from operator import index

from lenet_parity.custom_layers.python._lists import check_shape
from lenet_parity.custom_layers.python.softmax import log_softmax_row

REDUCTIONS = ("mean", "sum")


class NLLLoss:
    """loss = -mean over n of logp[n][target[n]]; backward() -> dlogp, -1/N at each target, else 0."""

    array_kind = "list"

    def __init__(self, reduction="mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self.params: dict = {}
        self._cache = None

    def _check(self, x: list, target) -> list[int]:
        """target as a list of ints in [0, C); accepts lists, numpy arrays or torch tensors of ints."""
        who = f"{type(self).__name__}.forward"
        n_batch, n_classes = check_shape(x, (2,), who, "(N, C)", name="input")
        try:
            targets = [index(t) for t in target]  # index() refuses floats such as 3.0, as torch does
        except TypeError as err:
            raise ValueError(f"{who}: target must hold integer class indices ({err})") from None
        if len(targets) != n_batch:
            raise ValueError(f"{who}: expected {n_batch} targets (one per row of the input), got {len(targets)}")
        bad = [t for t in targets if not 0 <= t < n_classes]
        if bad:
            raise ValueError(f"{who}: target values must lie in [0, {n_classes}), got {bad[0]}")
        return targets

    def _scale(self, n_batch: int) -> float:
        return 1.0 / n_batch if self.reduction == "mean" else 1.0

    def _reduce(self, logp: list, targets: list[int]) -> float:
        total = -float(sum([row[t] for row, t in zip(logp, targets)]))
        return total / len(targets) if self.reduction == "mean" else total

    def forward(self, logp: list, target) -> float:
        targets = self._check(logp, target)
        self._cache = (len(logp[0]), targets)
        return self._reduce(logp, targets)

    def backward(self) -> list:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        n_classes, targets = self._cache
        dlogp = [[0.0] * n_classes for _ in targets]
        for row, t in zip(dlogp, targets):
            row[t] = -self._scale(len(targets))
        return dlogp  # (N, C)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CrossEntropyLoss(NLLLoss):
    """loss = NLLLoss(log_softmax(logits)); backward() -> dlogits = (softmax(logits) - onehot) / N."""

    def forward(self, logits: list, target) -> float:
        targets = self._check(logits, target)
        logp = [log_softmax_row(row) for row in logits]
        self._cache = (logp, targets)
        return self._reduce(logp, targets)

    def backward(self) -> list:
        if self._cache is None:
            raise RuntimeError("CrossEntropyLoss.backward() called before forward()")
        logp, targets = self._cache
        scale = self._scale(len(targets))
        dlogits = [[exp(v) * scale for v in row] for row in logp]  # softmax(logits), scaled
        for row, t in zip(dlogits, targets):
            row[t] -= scale
        return dlogits  # (N, C)
