"""LeNet layers written by hand in NumPy (forward and backward)."""
import numpy as np


def _pair(v):
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


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
            "weight": np.random.uniform(-bound, bound, (out_channels, in_channels, kh, kw)).astype(np.float32),
            "bias": np.random.uniform(-bound, bound, (out_channels,)).astype(np.float32),
        }
        self.grads = {}

    def _im2col(self, xp, kh, kw, OH, OW):
        sh, sw = self.stride
        N, C = xp.shape[:2]
        cols = np.empty((N, C, kh, kw, OH, OW), dtype=xp.dtype)
        for i in range(kh):
            i_end = i + sh * OH
            for j in range(kw):
                j_end = j + sw * OW
                cols[:, :, i, j] = xp[:, :, i:i_end:sh, j:j_end:sw]
        return cols

    def _col2im(self, dcols, shape, kh, kw, OH, OW):
        sh, sw = self.stride
        dxp = np.zeros(shape, dtype=dcols.dtype)
        for i in range(kh):
            i_end = i + sh * OH
            for j in range(kw):
                j_end = j + sw * OW
                dxp[:, :, i:i_end:sh, j:j_end:sw] = dcols[:, :, i, j]
        return dxp

    def forward(self, x):
        dtype = x.dtype
        W = np.asarray(self.params["weight"], dtype=dtype)
        b = np.asarray(self.params["bias"], dtype=dtype)
        N, C, H, Wd = x.shape
        F, _, kh, kw = W.shape
        sh, sw = self.stride
        ph, pw = self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        OH = (H + 2 * ph - kh) // sh + 1
        OW = (Wd + 2 * pw - kw) // sw + 1
        cols = self._im2col(xp, kh, kw, OH, OW)
        cols = cols.transpose(0, 4, 5, 1, 2, 3).reshape(N * OH * OW, C * kh * kw)
        y = cols @ W.reshape(F, -1).T + b
        y = y.reshape(N, OH, OW, F).transpose(0, 3, 1, 2)
        self.cache = (x.shape, xp.shape, cols, W, OH, OW)
        return np.ascontiguousarray(y, dtype=dtype)

    def backward(self, dy):
        x_shape, xp_shape, cols, W, OH, OW = self.cache
        N, C, H, Wd = x_shape
        F, _, kh, kw = W.shape
        ph, pw = self.padding
        dy = np.asarray(dy, dtype=cols.dtype)
        dy2 = dy.transpose(0, 2, 3, 1).reshape(N * OH * OW, F)
        self.grads["weight"] = (dy2.T @ cols).reshape(W.shape)
        self.grads["bias"] = dy2.sum(axis=0)
        dcols = dy2 @ W.reshape(F, -1)
        dcols = dcols.reshape(N, OH, OW, C, kh, kw).transpose(0, 3, 4, 5, 1, 2)
        dxp = self._col2im(dcols, xp_shape, kh, kw, OH, OW)
        dx = dxp[:, :, ph:ph + H, pw:pw + Wd]
        return np.ascontiguousarray(dx)


class MaxPool2d:
    array_kind = "numpy"

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride) if stride is not None else self.kernel_size
        self.params = {}
        self.grads = {}

    def forward(self, x):
        N, C, H, W = x.shape
        kh, kw = self.kernel_size
        sh, sw = self.stride
        OH = (H - kh) // sh + 1
        OW = (W - kw) // sw + 1
        y = np.empty((N, C, OH, OW), dtype=x.dtype)
        for oh in range(OH):
            hs = oh * sh
            for ow in range(OW):
                ws = ow * sw
                y[:, :, oh, ow] = x[:, :, hs:hs + kh, ws:ws + kw].max(axis=(2, 3))
        self.x = x
        return y

    def backward(self, dy):
        x = self.x
        N, C, H, W = x.shape
        kh, kw = self.kernel_size
        sh, sw = self.stride
        OH, OW = dy.shape[2], dy.shape[3]
        dx = np.zeros_like(x)
        positions = np.arange(kh * kw)
        for oh in range(OH):
            hs = oh * sh
            for ow in range(OW):
                ws = ow * sw
                window = x[:, :, hs:hs + kh, ws:ws + kw].reshape(N, C, kh * kw)
                idx = window.argmax(axis=2)
                mask = (positions == idx[:, :, None]).reshape(N, C, kh, kw)
                dx[:, :, hs:hs + kh, ws:ws + kw] += mask * dy[:, :, oh, ow][:, :, None, None]
        return dx


class ReLU:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, np.zeros_like(x))

    def backward(self, dy):
        return np.where(self.x > 0, dy, np.zeros_like(dy)).astype(self.x.dtype)


class Linear:
    array_kind = "numpy"

    def __init__(self, in_features, out_features):
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / np.sqrt(in_features)
        self.params = {
            "weight": np.random.uniform(-bound, bound, (out_features, in_features)).astype(np.float32),
            "bias": np.random.uniform(-bound, bound, (out_features,)).astype(np.float32),
        }
        self.grads = {}

    def forward(self, x):
        dtype = x.dtype
        W = np.asarray(self.params["weight"], dtype=dtype)
        b = np.asarray(self.params["bias"], dtype=dtype)
        self.x = x
        self.W = W
        return (x @ W.T + b).astype(dtype)

    def backward(self, dy):
        x, W = self.x, self.W
        dy = np.asarray(dy, dtype=x.dtype)
        self.grads["weight"] = dy.T @ x
        self.grads["bias"] = dy.sum(axis=0)
        return dy @ W


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
        return logp.astype(x.dtype)

    def backward(self, dy):
        p = np.exp(self.logp)
        dx = dy - p * dy.sum(axis=self.dim, keepdims=True)
        return dx.astype(self.logp.dtype)


class NLLLoss:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, logp, target):
        target = np.asarray(target).astype(np.int64)
        N = logp.shape[0]
        self.shape, self.dtype, self.target = logp.shape, logp.dtype, target
        return float(-logp[np.arange(N), target].mean())

    def backward(self):
        N = self.shape[0]
        dlogp = np.zeros(self.shape, dtype=self.dtype)
        dlogp[np.arange(N), self.target] = -1.0 / N
        return dlogp
