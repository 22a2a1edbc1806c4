"""LogSoftmax and Softmax in pure Python, mirroring torch.nn.LogSoftmax / torch.nn.Softmax on 1-D or 2-D x:
along dim, log_softmax(x) = x - log(sum(exp(x))) and softmax(x) = exp(x) / sum(exp(x)).
"""

from __future__ import annotations

from math import exp, log

from lenet_parity.custom_layers.python._lists import check_same_shape, check_shape, dot, transpose


def log_softmax_row(row) -> list:
    """log(softmax(row)) = (row - max) - log(sum(exp(row - max)))."""
    m = max(row)  # subtracting it keeps exp() finite for logits of magnitude 1e4; the result is the same
    shifted = [v - m for v in row]
    log_sum = log(sum([exp(s) for s in shifted]))
    return [s - log_sum for s in shifted]


def softmax_row(row) -> list:
    """exp(row - max) / sum(exp(row - max)), which equals exp(row) / sum(exp(row))."""
    m = max(row)
    exps = [exp(v - m) for v in row]
    total = sum(exps)
    return [e / total for e in exps]


class _SoftmaxBase:
    """Shared dim handling: the rows of x are the slices along ``dim`` (dim 0 of 2-D x: its columns)."""

    array_kind = "list"

    def __init__(self, dim=1):
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise ValueError(f"{type(self).__name__}: dim must be an int, got {dim!r}")
        self.dim = dim
        self.params: dict = {}
        self.grads: dict = {}
        self._y = None

    def _slices(self, x: list) -> tuple[list, tuple[int, ...]]:
        """x's slices along dim as rows, and x's shape."""
        who = f"{type(self).__name__}(dim={self.dim})"
        shape = check_shape(x, (1, 2), who, "(N, C) or (C,)")
        if not -len(shape) <= self.dim < len(shape):
            raise ValueError(f"{who}: dim {self.dim} is out of range for x of shape {shape}")
        return self._to_rows(x, shape), shape

    def _to_rows(self, x: list, shape: tuple[int, ...]) -> list:
        if len(shape) == 1:
            return [x]
        return x if self.dim % 2 == 1 else transpose(x)

    def _from_rows(self, rows: list, shape: tuple[int, ...]) -> list:
        if len(shape) == 1:
            return rows[0]
        return rows if self.dim % 2 == 1 else transpose(rows)

    def _start_backward(self, dy: list) -> tuple[list, list, tuple[int, ...]]:
        """The cached y as rows, dy as rows (checked against x's shape), and x's shape."""
        if self._y is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        y, shape = self._y
        check_same_shape(dy, shape, f"{type(self).__name__}.backward")
        return y, self._to_rows(dy, shape), shape

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim})"


class LogSoftmax(_SoftmaxBase):
    """y = x - log(sum(exp(x))) along dim."""

    def forward(self, x: list) -> list:
        rows, shape = self._slices(x)
        y = [log_softmax_row(row) for row in rows]
        self._y = (y, shape)
        return self._from_rows(y, shape)

    def backward(self, dy: list) -> list:
        y, dy_rows, shape = self._start_backward(dy)
        # dx = dy - softmax(x) * sum(dy), with softmax(x) = exp(y)
        dx = []
        for y_row, dy_row in zip(y, dy_rows):
            total = sum(dy_row)
            dx.append([g - exp(v) * total for v, g in zip(y_row, dy_row)])
        return self._from_rows(dx, shape)


class Softmax(_SoftmaxBase):
    """y = exp(x) / sum(exp(x)) along dim."""

    def forward(self, x: list) -> list:
        rows, shape = self._slices(x)
        y = [softmax_row(row) for row in rows]
        self._y = (y, shape)
        return self._from_rows(y, shape)

    def backward(self, dy: list) -> list:
        y, dy_rows, shape = self._start_backward(dy)
        # dx = y * (dy - sum(dy * y))
        dx = []
        for y_row, dy_row in zip(y, dy_rows):
            dy_dot_y = dot(dy_row, y_row)
            dx.append([v * (g - dy_dot_y) for v, g in zip(y_row, dy_row)])
        return self._from_rows(dx, shape)
