"""NLLLoss and CrossEntropyLoss in NumPy, mirroring torch.nn.NLLLoss / torch.nn.CrossEntropyLoss.

``forward(input, target) -> float`` is the mean over the batch (torch's default reduction, or the sum
with ``reduction="sum"``); ``backward() -> dinput``. CrossEntropyLoss is log_softmax + NLL on logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import as_float, require_cache
from lenet_parity.custom_layers.numpy.softmax import log_softmax

REDUCTIONS = ("mean", "sum")


class NLLLoss:
    array_kind = "numpy"

    def __init__(self, reduction: str = "mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self._cache = None

    def _check(self, x: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
        name = f"{type(self).__name__}.forward"
        x = as_float(x, name, (2,), "(N, C)")
        target = np.asarray(target)
        if target.dtype.kind not in "iu":
            raise ValueError(f"{name}: target must hold integer class indices, got dtype {target.dtype}")
        if target.shape != x.shape[:1]:
            raise ValueError(f"{name}: target has shape {target.shape}, expected ({x.shape[0]},)")
        if target.size and (target.min() < 0 or target.max() >= x.shape[1]):
            raise ValueError(f"{name}: target values must lie in [0, {x.shape[1]}), got "
                             f"{target.min()}..{target.max()}")
        return x, target.astype(np.intp)

    def _scale(self, n: int) -> float:
        return 1.0 / n if self.reduction == "mean" else 1.0

    def forward(self, logp: Any, target: Any) -> float:
        logp, target = self._check(logp, target)
        picked = logp[np.arange(len(target)), target]  # (N,) log-probability of each true class
        self._cache = (logp.shape, logp.dtype, target)
        return float(-picked.mean() if self.reduction == "mean" else -picked.sum())

    def backward(self) -> np.ndarray:
        shape, dtype, target = require_cache(self)
        dlogp = np.zeros(shape, dtype=dtype)
        dlogp[np.arange(len(target)), target] = -self._scale(len(target))
        return dlogp

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CrossEntropyLoss(NLLLoss):
    def forward(self, x: Any, target: Any) -> float:
        x, target = self._check(x, target)
        logp = log_softmax(x, 1)  # (N, C)
        picked = logp[np.arange(len(target)), target]
        self._cache = (logp, target)
        return float(-picked.mean() if self.reduction == "mean" else -picked.sum())

    def backward(self) -> np.ndarray:
        logp, target = require_cache(self)
        dx = np.exp(logp)  # softmax(x) - onehot(target), scaled by the reduction
        dx[np.arange(len(target)), target] -= 1
        return dx * logp.dtype.type(self._scale(len(target)))
