"""erin_tuple_returns.py -- student: Erin.

Style: "backward returns the gradients as a tuple". Layers with parameters do
NOT store their gradients; ``backward(grad_out)`` returns ``(dx, dW, db)`` and
the training loop applies them. Layers without parameters return just dx.

    ConvLayer(in_channels, out_channels, kernel_size, stride=1, padding=0)
        self.weights (out_channels, in_channels, k, k), self.bias (out_channels, 1)
    MaxPoolLayer(size=2, stride=2)
    ReLULayer()
    FlattenLayer()
    LinearLayer(in_features, out_features)
        self.weights (out_features, in_features), self.bias (out_features, 1)
        forward: x @ weights.T + bias.T
    LogSoftmaxLayer()
    NLLLossLayer(): forward(log_probs, targets) -> mean loss, backward() -> d log_probs

The returned db has the bias's own (F, 1) shape. Data NCHW. The convolution
loops over the kernel offsets (kh * kw steps) and uses einsum for each.
"""
import numpy as np


class ConvLayer:
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.k = kernel_size
        self.stride = stride
        self.padding = padding
        scale = np.sqrt(1.0 / (in_channels * kernel_size * kernel_size))
        self.weights = np.random.randn(out_channels, in_channels, kernel_size, kernel_size) * scale
        self.bias = np.zeros((out_channels, 1))

    def forward(self, x):
        k, s, p = self.k, self.stride, self.padding
        N, C, H, W = x.shape
        Ho = (H + 2 * p - k) // s + 1
        Wo = (W + 2 * p - k) // s + 1
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        out = np.zeros((N, self.out_channels, Ho, Wo), dtype=np.result_type(x, self.weights))
        for a in range(k):
            for b in range(k):
                xs = xp[:, :, a:a + s * (Ho - 1) + 1:s, b:b + s * (Wo - 1) + 1:s]   # (N, C, Ho, Wo)
                out += np.einsum('nchw,fc->nfhw', xs, self.weights[:, :, a, b])
        out += self.bias.reshape(1, -1, 1, 1)
        self.xp = xp
        self.x_shape = x.shape
        return out

    def backward(self, grad_out):
        k, s, p = self.k, self.stride, self.padding
        N, C, H, W = self.x_shape
        Ho, Wo = grad_out.shape[2:]
        xp = self.xp
        dxp = np.zeros(xp.shape, dtype=np.result_type(xp, grad_out))
        dW = np.zeros(self.weights.shape, dtype=dxp.dtype)
        for a in range(k):
            for b in range(k):
                hs = slice(a, a + s * (Ho - 1) + 1, s)
                ws = slice(b, b + s * (Wo - 1) + 1, s)
                dW[:, :, a, b] = np.einsum('nfhw,nchw->fc', grad_out, xp[:, :, hs, ws])
                dxp[:, :, hs, ws] += np.einsum('nfhw,fc->nchw', grad_out, self.weights[:, :, a, b])
        db = grad_out.sum(axis=(0, 2, 3)).reshape(self.out_channels, 1)
        dx = dxp[:, :, p:p + H, p:p + W]
        return dx, dW, db


class MaxPoolLayer:
    def __init__(self, size=2, stride=2):
        self.size = size
        self.stride = stride

    def forward(self, x):
        k, s = self.size, self.stride
        N, C, H, W = x.shape
        Ho = (H - k) // s + 1
        Wo = (W - k) // s + 1
        out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
        self.mask = np.zeros((N, C, Ho, Wo, k * k), dtype=bool)
        for i in range(Ho):
            for j in range(Wo):
                win = x[:, :, i * s:i * s + k, j * s:j * s + k].reshape(N, C, -1)
                am = win.argmax(axis=-1)
                out[:, :, i, j] = win.max(axis=-1)
                self.mask[:, :, i, j, :] = np.arange(k * k) == am[..., None]
        self.x_shape = x.shape
        return out

    def backward(self, grad_out):
        k, s = self.size, self.stride
        N, C, H, W = self.x_shape
        Ho, Wo = grad_out.shape[2:]
        dx = np.zeros(self.x_shape, dtype=grad_out.dtype)
        for i in range(Ho):
            for j in range(Wo):
                g = self.mask[:, :, i, j, :] * grad_out[:, :, i, j][..., None]
                dx[:, :, i * s:i * s + k, j * s:j * s + k] += g.reshape(N, C, k, k)
        return dx


class ReLULayer:
    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, 0)

    def backward(self, grad_out):
        return np.where(self.x > 0, grad_out, 0)


class FlattenLayer:
    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, grad_out):
        return grad_out.reshape(self.x_shape)


class LinearLayer:
    def __init__(self, in_features, out_features):
        self.weights = np.random.randn(out_features, in_features) * np.sqrt(1.0 / in_features)
        self.bias = np.zeros((out_features, 1))

    def forward(self, x):
        self.x = x
        return x @ self.weights.T + self.bias.T

    def backward(self, grad_out):
        dx = grad_out @ self.weights
        dW = grad_out.T @ self.x
        db = grad_out.sum(axis=0).reshape(-1, 1)
        return dx, dW, db


class LogSoftmaxLayer:
    def forward(self, x):
        m = x.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
        self.y = x - lse
        return self.y

    def backward(self, grad_out):
        p = np.exp(self.y)
        return grad_out - p * grad_out.sum(axis=1, keepdims=True)


class NLLLossLayer:
    def forward(self, log_probs, targets):
        self.n = log_probs.shape[0]
        self.shape = log_probs.shape
        self.targets = np.asarray(targets, dtype=np.int64)
        picked = log_probs[np.arange(self.n), self.targets]
        return -picked.mean()

    def backward(self):
        g = np.zeros(self.shape)
        g[np.arange(self.n), self.targets] = -1.0 / self.n
        return g


def sgd_step(layer, dW, db, lr):
    layer.weights -= lr * dW
    layer.bias -= lr * db
