import numpy as np


def _pair(v):
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _im2col(xp, kh, kw, sh, sw, oh, ow):
    # xp: (N, C, Hp, Wp) -> cols: (C*kh*kw, N*oh*ow)
    N, C = xp.shape[0], xp.shape[1]
    cols = np.empty((C, kh, kw, N, oh, ow), dtype=xp.dtype)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
            cols[:, i, j] = patch.transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * oh * ow)


def _col2im(cols, xp_shape, kh, kw, sh, sw, oh, ow):
    N, C = xp_shape[0], xp_shape[1]
    cols = cols.reshape(C, kh, kw, N, oh, ow)
    dxp = np.zeros(xp_shape, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += cols[:, i, j].transpose(1, 0, 2, 3)
    return dxp


class Conv2d:
    array_kind = "numpy"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(in_channels * kh * kw)
        self.params = {
            "weight": np.random.uniform(-bound, bound, (out_channels, in_channels, kh, kw)),
            "bias": np.random.uniform(-bound, bound, (out_channels,)),
        }
        self.grads = {}

    def forward(self, x):
        w = self.params["weight"]
        b = self.params["bias"]
        N, C, H, W = x.shape
        F, _, kh, kw = w.shape
        sh, sw = self.stride
        ph, pw = self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        oh = (H + 2 * ph - kh) // sh + 1
        ow = (W + 2 * pw - kw) // sw + 1
        cols = _im2col(xp, kh, kw, sh, sw, oh, ow)
        out = w.reshape(F, -1) @ cols + b.reshape(F, 1)
        out = out.reshape(F, N, oh, ow).transpose(1, 0, 2, 3)
        self.cache = (x.shape, xp.shape, cols, oh, ow)
        return np.ascontiguousarray(out).astype(x.dtype, copy=False)

    def backward(self, dy):
        x_shape, xp_shape, cols, oh, ow = self.cache
        w = self.params["weight"]
        F, _, kh, kw = w.shape
        sh, sw = self.stride
        ph, pw = self.padding
        H, W = x_shape[2], x_shape[3]
        dy2 = dy.transpose(1, 0, 2, 3).reshape(F, -1)
        self.grads["weight"] = (dy2 @ cols.T).reshape(w.shape).astype(dy.dtype, copy=False)
        self.grads["bias"] = dy2.sum(axis=1).astype(dy.dtype, copy=False)
        dcols = w.reshape(F, -1).T @ dy2
        dxp = _col2im(dcols, xp_shape, kh, kw, sh, sw, oh, ow)
        dx = dxp[:, :, ph:ph + H, pw:pw + W]
        return np.ascontiguousarray(dx).astype(dy.dtype, copy=False)


class MaxPool2d:
    array_kind = "numpy"

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(kernel_size if stride is None else stride)
        self.params = {}
        self.grads = {}

    def forward(self, x):
        N, C, H, W = x.shape
        kh, kw = self.kernel_size
        sh, sw = self.stride
        oh = (H - kh) // sh + 1
        ow = (W - kw) // sw + 1
        out = np.empty((N, C, oh, ow), dtype=x.dtype)
        for i in range(oh):
            for j in range(ow):
                win = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                out[:, :, i, j] = win.max(axis=(2, 3))
        self.x = x
        return out

    def backward(self, dy):
        x = self.x
        N, C, H, W = x.shape
        kh, kw = self.kernel_size
        sh, sw = self.stride
        oh, ow = dy.shape[2], dy.shape[3]
        dx = np.zeros(x.shape, dtype=dy.dtype)
        positions = np.arange(kh * kw)
        for i in range(oh):
            for j in range(ow):
                win = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(N, C, kh * kw)
                first = win.argmax(axis=2)
                mask = positions == first[:, :, None]
                g = mask * dy[:, :, i, j][:, :, None]
                dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += g.reshape(N, C, kh, kw)
        return dx


class ReLU:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0).astype(x.dtype, copy=False)

    def backward(self, dy):
        return dy * (self.x > 0)


class Linear:
    array_kind = "numpy"

    def __init__(self, in_features, out_features):
        bound = 1.0 / np.sqrt(in_features)
        self.params = {
            "weight": np.random.uniform(-bound, bound, (out_features, in_features)),
            "bias": np.random.uniform(-bound, bound, (out_features,)),
        }
        self.grads = {}

    def forward(self, x):
        self.x = x
        w = self.params["weight"]
        b = self.params["bias"]
        return (x @ w.T + b).astype(x.dtype, copy=False)

    def backward(self, dy):
        w = self.params["weight"]
        self.grads["weight"] = (dy.T @ self.x).astype(dy.dtype, copy=False)
        self.grads["bias"] = dy.sum(axis=0).astype(dy.dtype, copy=False)
        return (dy @ w).astype(dy.dtype, copy=False)


class Flatten:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.shape)


class LogSoftmax:
    array_kind = "numpy"

    def __init__(self, dim=1):
        self.dim = dim
        self.params = {}
        self.grads = {}

    def forward(self, x):
        shifted = x - x.max(axis=self.dim, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=self.dim, keepdims=True))
        self.logp = logp
        return logp

    def backward(self, dy):
        p = np.exp(self.logp)
        return dy - p * dy.sum(axis=self.dim, keepdims=True)


class NLLLoss:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, logp, target):
        target = np.asarray(target).astype(np.int64)
        n = logp.shape[0]
        self.cache = (logp.shape, logp.dtype, target)
        picked = logp[np.arange(n), target]
        return float(-picked.sum() / n)

    def backward(self):
        shape, dtype, target = self.cache
        n = shape[0]
        dlogp = np.zeros(shape, dtype=dtype)
        dlogp[np.arange(n), target] = -1.0 / n
        return dlogp
