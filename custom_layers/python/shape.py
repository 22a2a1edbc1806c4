"""Flatten in pure Python, mirroring torch.nn.Flatten(start_dim=1, end_dim=-1): merges dims start..end into one,
e.g. (N, C, H, W) -> (N, C*H*W) with y[n][(c*H + h)*W + w] = x[n][c][h][w]; dx is dy reshaped back.
"""

from __future__ import annotations

import math

from lenet_parity.custom_layers.python._lists import check_same_shape, flatten, reshape, shape_of


class Flatten:
    """(N, C, H, W) -> (N, C*H*W) by default; backward reshapes dy back to x's shape."""

    array_kind = "list"

    def __init__(self, start_dim=1, end_dim=-1):
        for name, dim in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(dim, bool) or not isinstance(dim, int):
                raise ValueError(f"Flatten: {name} must be an int, got {dim!r}")
        self.start_dim, self.end_dim = start_dim, end_dim
        self.params: dict = {}
        self.grads: dict = {}
        self._shapes = None  # (x's shape, y's shape) of the last forward

    def forward(self, x: list) -> list:
        if not isinstance(x, list):
            raise ValueError(f"Flatten: expected x as a nested list, got {type(x).__name__}")
        shape = shape_of(x)
        ndim = len(shape)
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not 0 <= start <= end < ndim:
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): "
                             f"invalid for x of shape {shape}")
        y_shape = shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
        self._shapes = (shape, y_shape)
        return reshape(flatten(x), y_shape)

    def backward(self, dy: list) -> list:
        if self._shapes is None:
            raise RuntimeError("Flatten.backward() called before forward()")
        x_shape, y_shape = self._shapes
        check_same_shape(dy, y_shape, "Flatten.backward")
        return reshape(flatten(dy), x_shape)

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"
