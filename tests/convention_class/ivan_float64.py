"""ivan_float64.py -- student: Ivan.

Style: "always float64". Every forward and backward starts with
``x = np.asarray(x, dtype=np.float64)`` so all computation (and every output
and gradient) is float64 whatever dtype comes in; parameters are created in
float64 too. Otherwise correct.

Classes carry torch's names with positional torch-like constructors:
    Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0)
    MaxPool2d(kernel_size, stride=None)
    ReLU(), Flatten(), LogSoftmax()
    Linear(in_features, out_features)
    NLLLoss(): forward(log_probs, targets) -> mean loss; backward(grad=1.0) -> d log_probs
Parameters as attributes ``weight`` / ``bias`` (torch layouts: conv (out, in, k, k),
linear (out, in), biases 1-D); gradients ``weight_grad`` / ``bias_grad``.
Data NCHW. The conv builds an im2col matrix one sample at a time.
"""
import numpy as np


class Conv2d:
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        bound = 1.0 / np.sqrt(in_channels * kernel_size ** 2)
        self.weight = np.random.uniform(-bound, bound,
                                        (out_channels, in_channels, kernel_size, kernel_size)).astype(np.float64)
        self.bias = np.random.uniform(-bound, bound, out_channels).astype(np.float64)
        self.weight_grad = np.zeros_like(self.weight)
        self.bias_grad = np.zeros_like(self.bias)

    def _cols(self, xp_n, Ho, Wo):
        k, s = self.kernel_size, self.stride
        return np.stack([xp_n[:, i * s:i * s + k, j * s:j * s + k].ravel()
                         for i in range(Ho) for j in range(Wo)], axis=1)      # (C*k*k, Ho*Wo)

    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        N, C, H, W = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        Ho = (H + 2 * p - k) // s + 1
        Wo = (W + 2 * p - k) // s + 1
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        Wm = np.asarray(self.weight, dtype=np.float64).reshape(self.out_channels, -1)
        b = np.asarray(self.bias, dtype=np.float64)
        out = np.empty((N, self.out_channels, Ho, Wo), dtype=np.float64)
        self.cols = []
        for n in range(N):
            cols = self._cols(xp[n], Ho, Wo)
            self.cols.append(cols)
            out[n] = (Wm @ cols).reshape(self.out_channels, Ho, Wo) + b[:, None, None]
        self.in_shape = x.shape
        return out

    def backward(self, grad_output):
        grad_output = np.asarray(grad_output, dtype=np.float64)
        N, C, H, W = self.in_shape
        k, s, p = self.kernel_size, self.stride, self.padding
        F, Ho, Wo = grad_output.shape[1:]
        Wm = np.asarray(self.weight, dtype=np.float64).reshape(F, -1)
        dWm = np.zeros_like(Wm)
        dxp = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=np.float64)
        for n in range(N):
            g = grad_output[n].reshape(F, -1)                # (F, Ho*Wo)
            dWm += g @ self.cols[n].T
            dcols = Wm.T @ g                                 # (C*k*k, Ho*Wo)
            for idx in range(Ho * Wo):
                i, j = divmod(idx, Wo)
                dxp[n, :, i * s:i * s + k, j * s:j * s + k] += dcols[:, idx].reshape(C, k, k)
        self.weight_grad = dWm.reshape(self.weight.shape)
        self.bias_grad = grad_output.sum(axis=(0, 2, 3))
        return dxp[:, :, p:p + H, p:p + W]


class MaxPool2d:
    def __init__(self, kernel_size, stride=None):
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride

    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        N, C, H, W = x.shape
        k, s = self.kernel_size, self.stride
        Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
        out = np.empty((N, C, Ho, Wo), dtype=np.float64)
        self.argmax = np.empty((N, C, Ho, Wo), dtype=np.int64)
        for i in range(Ho):
            for j in range(Wo):
                win = x[:, :, i * s:i * s + k, j * s:j * s + k].reshape(N, C, k * k)
                a = win.argmax(axis=2)
                self.argmax[:, :, i, j] = a
                out[:, :, i, j] = np.take_along_axis(win, a[:, :, None], axis=2)[:, :, 0]
        self.in_shape = x.shape
        return out

    def backward(self, grad_output):
        grad_output = np.asarray(grad_output, dtype=np.float64)
        N, C, H, W = self.in_shape
        k, s = self.kernel_size, self.stride
        dx = np.zeros(self.in_shape, dtype=np.float64)
        nn, cc = np.ogrid[:N, :C]
        for i in range(grad_output.shape[2]):
            for j in range(grad_output.shape[3]):
                a = self.argmax[:, :, i, j]
                dx[nn, cc, i * s + a // k, j * s + a % k] += grad_output[:, :, i, j]
        return dx


class ReLU:
    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, grad_output):
        grad_output = np.asarray(grad_output, dtype=np.float64)
        return grad_output * (self.x > 0)


class Flatten:
    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output):
        grad_output = np.asarray(grad_output, dtype=np.float64)
        return grad_output.reshape(self.in_shape)


class Linear:
    def __init__(self, in_features, out_features):
        bound = 1.0 / np.sqrt(in_features)
        self.weight = np.random.uniform(-bound, bound, (out_features, in_features)).astype(np.float64)
        self.bias = np.random.uniform(-bound, bound, out_features).astype(np.float64)
        self.weight_grad = np.zeros_like(self.weight)
        self.bias_grad = np.zeros_like(self.bias)

    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.x = x
        return x @ np.asarray(self.weight, dtype=np.float64).T + np.asarray(self.bias, dtype=np.float64)

    def backward(self, grad_output):
        grad_output = np.asarray(grad_output, dtype=np.float64)
        self.weight_grad = grad_output.T @ self.x
        self.bias_grad = grad_output.sum(axis=0)
        return grad_output @ np.asarray(self.weight, dtype=np.float64)


class LogSoftmax:
    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        m = x.max(axis=1, keepdims=True)
        self.out = x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
        return self.out

    def backward(self, grad_output):
        grad_output = np.asarray(grad_output, dtype=np.float64)
        return grad_output - np.exp(self.out) * grad_output.sum(axis=1, keepdims=True)


class NLLLoss:
    def forward(self, log_probs, targets):
        log_probs = np.asarray(log_probs, dtype=np.float64)
        self.targets = np.asarray(targets).astype(np.int64)
        self.shape = log_probs.shape
        n = log_probs.shape[0]
        return float(-log_probs[np.arange(n), self.targets].sum() / n)

    def backward(self, grad=1.0):
        n = self.shape[0]
        d = np.zeros(self.shape, dtype=np.float64)
        d[np.arange(n), self.targets] = -float(grad) / n
        return d
