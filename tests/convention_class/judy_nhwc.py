"""judy_nhwc.py -- student: Judy.

Style: TensorFlow/Keras-minded. Parameter LAYOUTS are Keras's, but the DATA
is NCHW (batch, channels, height, width), like torch -- so Flatten flattens
in (C, H, W) order, the same order as torch.

    Conv2D(in_channels, filters, kernel_size, strides=1, padding=0)
        self.kernel (kh, kw, in_channels, filters)   <- Keras/TF HWIO layout
        self.bias   (filters,)
        grads self.dkernel, self.dbias
        padding: int, or 'valid' (=0), or 'same' (k // 2, for odd k and stride 1)
    MaxPooling2D(pool_size=2, strides=None)
    ReLU(), Flatten(), LogSoftmax()
    Dense(units, input_dim)        self.kernel (input_dim, units), self.bias (units,),
                                   grads self.dkernel, self.dbias; y = x @ kernel + bias
    NLLLoss(): Keras argument order -- forward(y_true, y_pred) where y_true are
               integer labels and y_pred the log-probabilities; returns the batch mean.
               backward() -> d y_pred.
``forward(x)`` / ``backward(dy)``; uses numpy sliding_window_view + einsum.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class Conv2D:
    def __init__(self, in_channels, filters, kernel_size, strides=1, padding=0):
        self.in_channels = in_channels
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        if padding == "valid":
            padding = 0
        elif padding == "same":
            padding = kernel_size // 2
        self.padding = padding
        # glorot uniform, Keras default
        fan_in = in_channels * kernel_size * kernel_size
        fan_out = filters * kernel_size * kernel_size
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        self.kernel = np.random.uniform(-limit, limit, (kernel_size, kernel_size, in_channels, filters))
        self.bias = np.zeros(filters)
        self.dkernel = np.zeros_like(self.kernel)
        self.dbias = np.zeros_like(self.bias)

    def forward(self, x):
        p, s, k = self.padding, self.strides, self.kernel_size
        self.input_shape = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        self.patches = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]   # N C Ho Wo kh kw
        self.xp_shape = xp.shape
        y = np.einsum('nchwij,ijcf->nfhw', self.patches, self.kernel)
        return y + self.bias[None, :, None, None]

    def backward(self, dy):
        p, s, k = self.padding, self.strides, self.kernel_size
        N, C, H, W = self.input_shape
        Ho, Wo = dy.shape[2], dy.shape[3]
        self.dkernel = np.einsum('nchwij,nfhw->ijcf', self.patches, dy)
        self.dbias = dy.sum(axis=(0, 2, 3))
        dxp = np.zeros(self.xp_shape, dtype=np.result_type(dy, self.kernel))
        for i in range(k):
            for j in range(k):
                dxp[:, :, i:i + s * (Ho - 1) + 1:s, j:j + s * (Wo - 1) + 1:s] += \
                    np.einsum('nfhw,cf->nchw', dy, self.kernel[i, j])
        return dxp[:, :, p:p + H, p:p + W]


class MaxPooling2D:
    def __init__(self, pool_size=2, strides=None):
        self.pool_size = pool_size
        self.strides = pool_size if strides is None else strides

    def forward(self, x):
        k, s = self.pool_size, self.strides
        self.input_shape = x.shape
        win = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        N, C, Ho, Wo = win.shape[:4]
        flat = win.reshape(N, C, Ho, Wo, k * k)
        self.argmax = flat.argmax(axis=-1)
        return flat.max(axis=-1)

    def backward(self, dy):
        k, s = self.pool_size, self.strides
        dx = np.zeros(self.input_shape, dtype=dy.dtype)
        n, c, i, j = np.indices(dy.shape)
        np.add.at(dx, (n, c, i * s + self.argmax // k, j * s + self.argmax % k), dy)
        return dx


class ReLU:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return np.where(self.x > 0, dy, 0)


class Flatten:
    def forward(self, x):
        self.input_shape = x.shape
        return x.reshape(x.shape[0], -1)          # data is NCHW -> (C, H, W) order

    def backward(self, dy):
        return dy.reshape(self.input_shape)


class Dense:
    def __init__(self, units, input_dim):
        limit = np.sqrt(6.0 / (input_dim + units))
        self.kernel = np.random.uniform(-limit, limit, (input_dim, units))
        self.bias = np.zeros(units)
        self.dkernel = np.zeros_like(self.kernel)
        self.dbias = np.zeros_like(self.bias)

    def forward(self, x):
        self.x = x
        return x @ self.kernel + self.bias

    def backward(self, dy):
        self.dkernel = self.x.T @ dy
        self.dbias = dy.sum(axis=0)
        return dy @ self.kernel.T


class LogSoftmax:
    def forward(self, x):
        m = np.max(x, axis=-1, keepdims=True)
        self.y = x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
        return self.y

    def backward(self, dy):
        return dy - np.exp(self.y) * np.sum(dy, axis=-1, keepdims=True)


class NLLLoss:
    def forward(self, y_true, y_pred):
        y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
        self.y_true = y_true
        self.y_pred_shape = y_pred.shape
        self.dtype = y_pred.dtype
        return -np.mean(y_pred[np.arange(len(y_true)), y_true])

    def backward(self):
        n = len(self.y_true)
        g = np.zeros(self.y_pred_shape, dtype=self.dtype)
        g[np.arange(n), self.y_true] = -1.0 / n
        return g
