"""ReLU, Tanh and Sigmoid in pure Python, mirroring torch.nn.ReLU / Tanh / Sigmoid on nested lists of any shape.

ReLU (F.relu): y = max(x, 0) elementwise, dx = dy where x > 0, else 0 (so the gradient at exactly 0 is 0, as
torch's threshold_backward has it). Tanh and Sigmoid: dx is computed from the output y, as torch does.
"""

from __future__ import annotations

from math import exp, tanh

from lenet_parity.custom_layers.python._lists import check_same_shape, map_rows, shape_of


def _relu_row(row: list) -> list:
    return [0.0 if v <= 0.0 else v for v in row]  # "<=" lets NaN through, like torch's clamp


def _relu_grad_row(x_row: list, dy_row: list) -> list:
    return [g if v > 0.0 else 0.0 for v, g in zip(x_row, dy_row)]


class ReLU:
    """y = max(x, 0) elementwise."""

    array_kind = "list"

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self._x = None

    def forward(self, x: list) -> list:
        if not isinstance(x, list):
            raise ValueError(f"ReLU: expected x as a nested list, got {type(x).__name__}")
        shape_of(x)  # rejects ragged lists
        self._x = x
        return map_rows(_relu_row, x)

    def backward(self, dy: list) -> list:
        if self._x is None:
            raise RuntimeError("ReLU.backward() called before forward()")
        check_same_shape(dy, shape_of(self._x), "ReLU.backward")
        return map_rows(_relu_grad_row, self._x, dy)

    def __repr__(self) -> str:
        return "ReLU()"


class _FromOutput:
    """An elementwise layer whose gradient is a function of its output: dx = dy * slope(y), as torch's
    tanh_backward and sigmoid_backward compute it. Subclasses give ``function(v)`` and ``slope(y)`` for one
    number."""

    array_kind = "list"

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self._y = None

    def forward(self, x: list) -> list:
        who = type(self).__name__
        if not isinstance(x, list):
            raise ValueError(f"{who}: expected x as a nested list, got {type(x).__name__}")
        shape_of(x)  # rejects ragged lists
        self._y = map_rows(lambda row: [self.function(v) for v in row], x)
        return map_rows(list, self._y)  # a copy: the caller may change its y, backward reads ours

    def backward(self, dy: list) -> list:
        who = type(self).__name__
        if self._y is None:
            raise RuntimeError(f"{who}.backward() called before forward()")
        check_same_shape(dy, shape_of(self._y), f"{who}.backward")
        return map_rows(lambda y_row, dy_row: [g * self.slope(v) for v, g in zip(y_row, dy_row)], self._y, dy)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Tanh(_FromOutput):
    """y = tanh(x) elementwise; dx = dy * (1 - y^2)."""

    @staticmethod
    def function(v: float) -> float:
        return tanh(v)  # math.tanh saturates to +-1.0, it never overflows

    @staticmethod
    def slope(y: float) -> float:
        return 1.0 - y * y


class Sigmoid(_FromOutput):
    """y = 1 / (1 + exp(-x)) elementwise; dx = dy * y * (1 - y)."""

    @staticmethod
    def function(v: float) -> float:
        # exp(-v) raises OverflowError for v < -709, so below 0 use the same value e / (1 + e) with
        # e = exp(v) < 1. Either way exp() sees a number <= 0. A NaN fails v >= 0 and stays NaN.
        if v >= 0.0:
            return 1.0 / (1.0 + exp(-v))
        e = exp(v)
        return e / (1.0 + e)

    @staticmethod
    def slope(y: float) -> float:
        return y * (1.0 - y)
