"""
Homework 3 - LeNet-5 (LeCun et al. 1998) layers in plain NumPy.

Every layer is a class with forward() and backward().
forward() stores what backward() needs on self.
Inputs are float arrays; float32 in -> float32 out.
"""
import numpy as np


class Tanh:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        # d tanh(x)/dx = 1 - tanh(x)^2, and we already have tanh(x) cached
        return 1.0 - self.out ** 2


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        # stable version: only ever call exp on a non-positive number
        #   x >= 0:  1 / (1 + e^-x)
        #   x <  0:  e^x / (1 + e^x)
        z = np.exp(-np.abs(x))
        self.out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1.0 - self.out)


class AvgPool:
    """Average pooling on (N, C, H, W). Windows that don't fit are dropped."""

    def __init__(self, pool_size=2, stride=None):
        self.pool_size = pool_size
        self.stride = pool_size if stride is None else stride
        self.x_shape = None

    def forward(self, x):
        N, C, H, W = x.shape
        k, s = self.pool_size, self.stride
        H_out = (H - k) // s + 1
        W_out = (W - k) // s + 1

        out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
        for i in range(H_out):
            for j in range(W_out):
                window = x[:, :, i * s:i * s + k, j * s:j * s + k]
                out[:, :, i, j] = window.mean(axis=(2, 3))

        self.x_shape = x.shape
        return out

    def backward(self, dout):
        k, s = self.pool_size, self.stride
        _, _, H_out, W_out = dout.shape
        dx = np.zeros(self.x_shape, dtype=dout.dtype)
        for i in range(H_out):
            for j in range(W_out):
                # each input in the window got 1/(k*k) of the output;
                # use += because windows can overlap when stride < k
                dx[:, :, i * s:i * s + k, j * s:j * s + k] += dout[:, :, i, j][:, :, None, None] / (k * k)
        return dx


class Softmax:
    """Softmax over the class axis of an (N, C) array."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        x = x - x.max(axis=1, keepdims=True)  # for numerical stability
        e = np.exp(x)
        self.out = e / e.sum(axis=1, keepdims=True)
        return self.out

    def backward(self, dout):
        # dx_i = s_i * (dout_i - sum_j dout_j s_j)   (Jacobian-vector product)
        s = self.out
        return s * (dout - (dout * s).sum(axis=1, keepdims=True))


class SoftmaxWithLoss:
    """Softmax + cross-entropy. labels are integer class ids, shape (N,)."""

    def __init__(self):
        self.probs = None
        self.labels = None

    def forward(self, x, labels):
        N = x.shape[0]
        shifted = x - x.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs = np.exp(log_probs)
        self.labels = labels
        loss = -log_probs[np.arange(N), labels].mean()
        return float(loss)

    def backward(self, dout=1):
        N = self.probs.shape[0]
        dx = self.probs.copy()
        dx[np.arange(N), self.labels] -= 1
        dx = dx * (dout / N)
        return dx


# ---- classic layers (not the point of this homework, but LeNet needs them) ----

class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.orig_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.orig_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        dx = dout @ self.W.T
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dx.reshape(self.orig_shape)
