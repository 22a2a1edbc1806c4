"""BatchNorm2d and BatchNorm1d in pure Python, mirroring torch.nn.BatchNorm2d / BatchNorm1d (affine, tracked):
per channel c, y = weight[c] * (x - mean_c) / sqrt(var_c + eps) + bias[c].
"""

from __future__ import annotations

from math import sqrt

from lenet_parity.custom_layers.python._lists import (check_same_shape, check_shape, dot, join_channels,
                                                      positive_int, split_channels)


class _BatchNorm:
    """Per channel c: y = weight[c] * (x - mean_c) / sqrt(var_c + eps) + bias[c].

    Training normalises with the batch's biased variance but stores the unbiased one in running_var, as
    torch does; evaluation (training = False) normalises with running_mean and running_var.
    """

    array_kind = "list"
    _ndims: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.num_features = positive_int(num_features, "num_features")
        if not eps > 0:
            raise ValueError(f"{type(self).__name__}: eps must be positive, got {eps!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.eps, self.momentum = float(eps), momentum
        self.training = True
        self.num_batches_tracked = 0  # momentum=None makes the running stats a cumulative average, as in torch
        c = num_features
        self.params = {"weight": [1.0] * c, "bias": [0.0] * c, "running_mean": [0.0] * c, "running_var": [1.0] * c}
        self.grads: dict = {}
        self._cache = None

    def forward(self, x: list) -> list:
        who = f"{type(self).__name__}({self.num_features})"
        shape = check_shape(x, self._ndims, who, self._layout)
        if shape[1] != self.num_features:
            raise ValueError(f"{who}: expected x with {self.num_features} channels, got {shape[1]}")
        for name in self.params:
            check_same_shape(self.params[name], (self.num_features,), who, name=f"params['{name}']")
        chans = split_channels(x)  # C lists of the channel's N*H*W values
        count = len(chans[0])
        if self.training:
            if count == 1:
                raise ValueError(f"{who}: expected more than 1 value per channel when training, got shape {shape}")
            means = [sum(ch) / count for ch in chans]
            variances = [sum([(v - m) * (v - m) for v in ch]) / count for ch, m in zip(chans, means)]  # biased
            self._update_running_stats(means, variances, count)
        else:
            means, variances = self.params["running_mean"], self.params["running_var"]
        inv_stds = [1.0 / sqrt(var + self.eps) for var in variances]
        x_hats = [[(v - m) * s for v in ch] for ch, m, s in zip(chans, means, inv_stds)]
        y_chans = [[g * v + b for v in xh] for xh, g, b in zip(x_hats, self.params["weight"], self.params["bias"])]
        self._cache = (shape, x_hats, inv_stds, self.params["weight"], self.training)
        return join_channels(y_chans, shape)

    def _update_running_stats(self, means: list, variances: list, count: int) -> None:
        self.num_batches_tracked += 1
        factor = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        unbiased = [var * count / (count - 1) for var in variances]
        p = self.params
        p["running_mean"] = [(1.0 - factor) * r + factor * m for r, m in zip(p["running_mean"], means)]
        p["running_var"] = [(1.0 - factor) * r + factor * v for r, v in zip(p["running_var"], unbiased)]

    def backward(self, dy: list) -> list:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        shape, x_hats, inv_stds, weight, training = self._cache
        check_same_shape(dy, shape, f"{type(self).__name__}.backward")
        dy_chans = split_channels(dy)
        dw = [dot(dy_c, xh) for dy_c, xh in zip(dy_chans, x_hats)]
        db = [sum(dy_c) for dy_c in dy_chans]
        self.grads = {"weight": dw, "bias": db}
        if not training:  # the running statistics are constants: dx = dy * weight / sqrt(running_var + eps)
            dx_chans = [[g * w_c * s for g in dy_c] for dy_c, w_c, s in zip(dy_chans, weight, inv_stds)]
            return join_channels(dx_chans, shape)
        # mean and variance depend on x too: dx = w / std * (dy - mean(dy) - x_hat * mean(dy * x_hat))
        count = len(x_hats[0])
        dx_chans = []
        for dy_c, xh, w_c, s, dw_c, db_c in zip(dy_chans, x_hats, weight, inv_stds, dw, db):
            scale, mean_dy, mean_dy_xh = w_c * s, db_c / count, dw_c / count
            dx_chans.append([scale * (g - mean_dy - v * mean_dy_xh) for g, v in zip(dy_c, xh)])
        return join_channels(dx_chans, shape)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine=True, track_running_stats=True)")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, H, W) per channel of an (N, C, H, W) input."""

    _ndims = (4,)
    _layout = "(N, C, H, W)"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over N (and L) per feature of an (N, C) or (N, C, L) input."""

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"

