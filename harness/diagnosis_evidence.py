"""What a diagnosis says (Diagnosis) and what its hypotheses look at (Evidence): shared by harness/diagnosis.py
and the modules of hypotheses it registers (diagnosis_windows, diagnosis_shapes, diagnosis_dense_head)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Diagnosis:
    code: str  # shape, dtype, crash, in-place, scale, sign, offset, permutation, flipped-kernel, border, ...
    hint: str  # one plain sentence: what the student most likely did

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "hint": self.hint}


UNKNOWN = Diagnosis("unknown", "no classic bug reproduces these values; compare the worst element by hand")


@dataclass
class Evidence:
    """What the hypotheses may look at: the two tensors, and when the check had them, the layer's inputs."""

    tensor: str  # output, loss, grad_input, grad_weight, grad_bias, running_var, ...
    got: np.ndarray
    expected: np.ndarray
    atol: float
    rtol: float
    cls: str = ""  # the torch class the layer mirrors: Conv2d, MaxPool2d, ...
    kwargs: dict = field(default_factory=dict)  # its constructor's arguments
    x: np.ndarray | None = None  # the layer's input (log-probabilities for the loss)
    dy: np.ndarray | None = None  # the upstream gradient
    params: dict[str, np.ndarray] = field(default_factory=dict)
    targets: np.ndarray | None = None  # the loss's class indices

    dtype_size: int = 8  # bytes per element of the check's dtype (4 for float32)

    def matches(self, candidate: Any) -> bool:
        c = np.asarray(candidate, dtype=np.float64)
        g = np.asarray(self.got, dtype=np.float64)
        if c.shape != g.shape or not np.all(np.isfinite(c)):
            return False
        return bool(np.allclose(g, c, atol=self.atol, rtol=self.rtol))

    @property
    def batch(self) -> int | None:
        return int(self.x.shape[0]) if self.x is not None and self.x.ndim >= 1 else None
