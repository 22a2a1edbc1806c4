"""BatchNorm2d and BatchNorm1d in NumPy, mirroring torch.nn.BatchNorm2d / BatchNorm1d.

Training normalises with the batch's biased variance but stores the unbiased one in ``running_var``
(running = (1 - momentum) * running + momentum * batch, as torch; momentum=None: a cumulative average);
evaluation uses the running stats.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import as_float, param, positive_int, require_cache, upstream


class _BatchNorm:
    array_kind = "numpy"
    ndims: tuple[int, ...] = ()
    layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1):
        self.num_features = positive_int(num_features, "num_features")
        if not eps > 0:
            raise ValueError(f"{type(self).__name__}: eps must be > 0, got {eps!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.eps, self.momentum = float(eps), momentum
        self.num_batches_tracked = 0  # momentum=None makes the running stats a cumulative average, as in torch
        c = self.num_features
        self.params: dict[str, np.ndarray] = {
            "weight": np.ones(c, np.float32), "bias": np.zeros(c, np.float32),
            "running_mean": np.zeros(c, np.float32), "running_var": np.ones(c, np.float32)}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self._cache = None

    def forward(self, x: Any) -> np.ndarray:
        name = f"{type(self).__name__}.forward"
        x = as_float(x, name, self.ndims, self.layout)
        c = self.num_features
        if x.shape[1] != c:
            raise ValueError(f"{name}: x has {x.shape[1]} channels, expected {c}")
        axes = (0, *range(2, x.ndim))  # every axis but the channel one
        bshape = (1, c) + (1,) * (x.ndim - 2)  # broadcasts a (C,) vector over x
        w = param(self, "weight", (c,), x.dtype).reshape(bshape)
        b = param(self, "bias", (c,), x.dtype).reshape(bshape)
        if self.training:
            n = x.size // c  # values per channel
            if n < 2:
                raise ValueError(f"{name}: expected more than 1 value per channel when training, got "
                                 f"input shape {x.shape}")
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(bshape)
            var = (xc * xc).mean(axis=axes)  # biased: divides by n, as torch normalises
            self.num_batches_tracked += 1
            m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
            running_mean = param(self, "running_mean", (c,), x.dtype)
            running_var = param(self, "running_var", (c,), x.dtype)
            self.params["running_mean"] = (1 - m) * running_mean + m * mean
            self.params["running_var"] = (1 - m) * running_var + m * var * (n / (n - 1))  # unbiased
        else:
            xc = x - param(self, "running_mean", (c,), x.dtype).reshape(bshape)
            var = param(self, "running_var", (c,), x.dtype)
        inv_std = (1 / np.sqrt(var + x.dtype.type(self.eps))).reshape(bshape)
        xhat = xc * inv_std
        self._cache = (xhat, inv_std, w, axes, self.training)
        return xhat * w + b

    def backward(self, dy: Any) -> np.ndarray:
        xhat, inv_std, w, axes, training = require_cache(self)
        dy = upstream(dy, xhat.shape, xhat.dtype, type(self).__name__)
        self.grads = {"weight": (dy * xhat).sum(axis=axes), "bias": dy.sum(axis=axes)}
        dxhat = dy * w
        if not training:  # the running stats are constants
            return dxhat * inv_std
        # the batch mean and variance depend on x too: project out their directions
        return inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                          - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine=True, bias=True, track_running_stats=True)")


class BatchNorm2d(_BatchNorm):
    ndims = (4,)
    layout = "(N, C, H, W)"


class BatchNorm1d(_BatchNorm):
    ndims = (2, 3)
    layout = "(N, C) or (N, C, L)"
