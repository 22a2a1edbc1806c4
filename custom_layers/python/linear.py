"""Linear in pure Python, mirroring torch.nn.Linear (F.linear): y = x W^T + b, weight (out, in), x (..., in),
that is y[n][o] = bias[o] + sum over i of x[n][i] * weight[o][i].
"""

from __future__ import annotations

import math

from lenet_parity.custom_layers.python._lists import (check_same_shape, check_shape, checked_param, dot, flatten,
                                                      positive_int, reshape, transpose, uniform)


class Linear:
    """y[n, o] = bias[o] + sum over i of x[n, i] * weight[o, i]; leading dims beyond n act as batch dims."""

    array_kind = "list"

    def __init__(self, in_features, out_features, bias=True):
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        self.has_bias = bool(bias)
        bound = 1.0 / math.sqrt(in_features)  # torch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        self.params = {"weight": uniform((out_features, in_features), bound)}
        if self.has_bias:
            self.params["bias"] = uniform((out_features,), bound)
        self.grads: dict = {}
        self._cache = None

    def forward(self, x: list) -> list:
        who = f"Linear({self.in_features}, {self.out_features})"
        shape = check_shape(x, tuple(range(1, 9)), who, "(N, in_features)")
        if shape[-1] != self.in_features:
            raise ValueError(f"{who}: expected x with {self.in_features} features, got shape {shape}")
        weight = checked_param(self, "weight", (self.out_features, self.in_features))
        bias = checked_param(self, "bias", (self.out_features,)) if self.has_bias else [0.0] * self.out_features
        x2 = x if len(shape) == 2 else reshape(flatten(x), (math.prod(shape[:-1]), self.in_features))  # (M, in)
        self._cache = (x2, weight, shape)
        y2 = [[b_o + dot(x_n, w_o) for w_o, b_o in zip(weight, bias)] for x_n in x2]  # (M, out)
        return y2 if len(shape) == 2 else reshape(flatten(y2), shape[:-1] + (self.out_features,))

    def backward(self, dy: list) -> list:
        if self._cache is None:
            raise RuntimeError("Linear.backward() called before forward()")
        x2, weight, shape = self._cache
        check_same_shape(dy, shape[:-1] + (self.out_features,), "Linear.backward")
        dy2 = dy if len(shape) == 2 else reshape(flatten(dy), (len(x2), self.out_features))  # (M, out)
        dy_cols = transpose(dy2)  # (out, M)
        x_cols = transpose(x2)  # (in, M)
        dw = [[dot(dy_o, x_i) for x_i in x_cols] for dy_o in dy_cols]  # dW = dY^T X, (out, in)
        self.grads = {"weight": dw}
        if self.has_bias:
            self.grads["bias"] = [sum(dy_o) for dy_o in dy_cols]
        w_cols = transpose(weight)  # (in, out)
        dx2 = [[dot(dy_n, w_i) for w_i in w_cols] for dy_n in dy2]  # dX = dY W, (M, in)
        return dx2 if len(shape) == 2 else reshape(flatten(dx2), shape)

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.has_bias})"
