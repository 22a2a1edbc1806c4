"""ReLU in pure Python, mirroring torch.nn.ReLU (F.relu) on nested lists of any shape: y = max(x, 0) elementwise,
dx = dy where x > 0, else 0 (so the gradient at exactly 0 is 0, as torch's threshold_backward has it).
"""

from __future__ import annotations

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
