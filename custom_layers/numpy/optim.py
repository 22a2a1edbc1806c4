"""SGD and Adam for NumPy layers, with torch.optim's exact update rules, vectorised and dtype-preserving.

Mirrors torch.optim.SGD and torch.optim.Adam (single-tensor code paths): each line below is one torch
op, in torch's order, so float64 results agree to rounding. Param collection and state_dict come from
the pure-Python twin, python/optim.py, whose per-element loops read the same rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.python import optim as _py
from lenet_parity.custom_layers.python.optim import collect_params  # noqa: F401  (re-exported)


class _NumpyArrays:
    """The array hooks of python/optim.py's Optimizer, for ndarrays updated in place."""

    array_kind = "numpy"

    @staticmethod
    def _shape(x: Any) -> tuple[int, ...]:
        return np.shape(x)

    @staticmethod
    def _export(v: np.ndarray, like: Any) -> np.ndarray:
        return v.copy()  # a snapshot: later steps must not change a saved state_dict

    @staticmethod
    def _import(v: Any, like: np.ndarray) -> np.ndarray:
        return np.array(v, dtype=like.dtype)  # like torch's load_state_dict: buffers take the param's dtype

    @staticmethod
    def _check(p: Any, g: Any) -> None:
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
            raise ValueError(f"a param must be a floating ndarray to be updated in place, got {type(p).__name__} "
                             f"{getattr(p, 'dtype', '')}")
        if getattr(g, "dtype", None) != p.dtype:
            # a silent promotion would change the arithmetic that torch does in the param's dtype
            raise ValueError(f"grad dtype {getattr(g, 'dtype', type(g).__name__)} != param dtype {p.dtype}")


class SGD(_NumpyArrays, _py.SGD):
    """torch.optim.SGD: grad += wd * p; buf = grad on the first step, then momentum * buf + (1 - dampening) * grad."""

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        if self.weight_decay != 0:
            g = g + self.weight_decay * p  # a new array: the layer's grad is never modified
        if self.momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()  # torch: the first step copies, no dampening
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p += (-self.lr) * g


class Adam(_NumpyArrays, _py.Adam):
    """torch.optim.Adam (L2 weight decay added to the grad, bias-corrected moments, optional AMSGrad)."""

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        (beta1, beta2), m, v = self.betas, state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        step = float(state["step"])  # torch keeps the step in a float tensor
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        step_size = self.lr / bias_correction1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        _lerp_(m, g, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g  # torch's addcmul: (value * t1) * t2
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = np.sqrt(v) / bias_correction2_sqrt
        denom += self.eps
        p += (-step_size) * m / denom  # torch's addcdiv: (value * t1) / t2


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """torch.lerp_ with a scalar weight: the formula from the nearer end is the more accurate."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
