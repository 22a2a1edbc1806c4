"""Linear in pure Python, mirroring torch.nn.Linear (F.linear): y = x W^T + b, weight (out, in)."""

from __future__ import annotations

import math
import random
from operator import mul

from lenet_parity.custom_layers.python._lists import check_same_shape, check_shape, positive_int, uniform

# Below this batch size the dot products over the batch in dW would be a Python call per weight for
# only a few products each, so dW is accumulated as one outer product per sample instead.
_OUTER_PRODUCT_MAX_BATCH = 8


class Linear:
    """y[n, o] = bias[o] + sum over i of x[n, i] * weight[o, i]."""

    array_kind = "list"

    def __init__(self, in_features, out_features, *, seed=None):
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        bound = 1.0 / math.sqrt(in_features)  # torch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        rng = random.Random(seed)
        self.params = {"weight": uniform((out_features, in_features), bound, rng),
                       "bias": uniform((out_features,), bound, rng)}
        self.grads: dict = {}
        self._cache = None

    def forward(self, x: list) -> list:
        who = f"Linear({self.in_features}, {self.out_features})"
        _, n_in = check_shape(x, (2,), who, "(N, in_features)")
        if n_in != self.in_features:
            raise ValueError(f"{who}: expected x with {self.in_features} features, got {n_in}")
        weight, bias = self.params["weight"], self.params["bias"]
        check_same_shape(weight, (self.out_features, self.in_features), who, name="params['weight']")
        check_same_shape(bias, (self.out_features,), who, name="params['bias']")
        self._cache = (x, weight)
        return [[b_o + sum(map(mul, x_n, w_o)) for w_o, b_o in zip(weight, bias)] for x_n in x]  # (N, out)

    def backward(self, dy: list) -> list:
        if self._cache is None:
            raise RuntimeError("Linear.backward() called before forward()")
        x, weight = self._cache
        check_same_shape(dy, (len(x), self.out_features), "Linear.backward")
        dy_cols = list(zip(*dy))  # (out, N)
        if len(x) <= _OUTER_PRODUCT_MAX_BATCH:
            dw = [[g * v for v in x[0]] for g in dy[0]]  # outer(dy[0], x[0])
            for x_n, dy_n in zip(x[1:], dy[1:]):
                dw = [[a + g * v for a, v in zip(dw_o, x_n)] for dw_o, g in zip(dw, dy_n)]
        else:
            x_cols = list(zip(*x))  # (in, N)
            dw = [[sum(map(mul, dy_o, x_i)) for x_i in x_cols] for dy_o in dy_cols]  # dW = dY^T X
        self.grads = {"weight": dw, "bias": [sum(dy_o) for dy_o in dy_cols]}
        w_cols = list(zip(*weight))  # (in, out)
        return [[sum(map(mul, dy_n, w_i)) for w_i in w_cols] for dy_n in dy]  # dX = dY W, (N, in)
