"""nina_parameter_objects.py -- student: Nina.

Style: a mini-framework imitating torch's Parameter. Each learnable tensor is a
``Parameter`` object with ``.data`` (the array) and ``.grad`` (its gradient,
overwritten by each backward). Modules expose ``parameters()`` and
``named_parameters()``, are callable, and a ``Sequential`` chains them.

    Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0)
        self.weight.data (out, in, k, k), self.bias.data (out,)
    MaxPool2d(kernel_size, stride=None)
    ReLU(), Flatten(), LogSoftmax(dim=1)
    Linear(in_features, out_features)
        self.weight.data (out, in), self.bias.data (out,)
    NLLLoss(): forward(input, target) -> mean loss; backward() -> d input
``forward(x)`` / ``backward(grad_output)`` returning grad_input. Data NCHW.
Conv: im2col with sliding_window_view + matmul, col2im with np.add.at.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class Parameter:
    def __init__(self, data):
        self.data = data
        self.grad = np.zeros_like(data)

    def __repr__(self):
        return f"Parameter(shape={self.data.shape})"


class Module:
    def __call__(self, *args):
        return self.forward(*args)

    def named_parameters(self):
        return [(k, v) for k, v in vars(self).items() if isinstance(v, Parameter)]

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = np.zeros_like(p.data)


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        k = 1.0 / np.sqrt(in_channels * kernel_size * kernel_size)
        self.weight = Parameter(np.random.uniform(-k, k, (out_channels, in_channels, kernel_size, kernel_size)))
        self.bias = Parameter(np.random.uniform(-k, k, out_channels))

    def _index(self, H, W):
        k, s = self.kernel_size, self.stride
        Ho = (H - k) // s + 1
        Wo = (W - k) // s + 1
        rows = (np.arange(Ho) * s)[:, None, None, None] + np.arange(k)[None, None, :, None]   # Ho 1 k 1
        cols = (np.arange(Wo) * s)[None, :, None, None] + np.arange(k)[None, None, None, :]   # 1 Wo 1 k
        return rows, cols, Ho, Wo

    def forward(self, x):
        p, k, s = self.padding, self.kernel_size, self.stride
        self.x_shape = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        self.xp_shape = xp.shape
        win = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]    # N C Ho Wo k k
        N, C, Ho, Wo = win.shape[:4]
        self.cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * k * k)
        out = self.cols @ self.weight.data.reshape(self.out_channels, -1).T + self.bias.data
        return out.reshape(N, Ho, Wo, self.out_channels).transpose(0, 3, 1, 2)

    def backward(self, grad_output):
        p, k = self.padding, self.kernel_size
        N, C, H, W = self.x_shape
        F = self.out_channels
        g = grad_output.transpose(0, 2, 3, 1).reshape(-1, F)
        self.weight.grad = (g.T @ self.cols).reshape(self.weight.data.shape)
        self.bias.grad = g.sum(axis=0)
        dcols = (g @ self.weight.data.reshape(F, -1)).reshape(N, grad_output.shape[2], grad_output.shape[3], C, k, k)
        rows, cols, Ho, Wo = self._index(self.xp_shape[2], self.xp_shape[3])
        dxp = np.zeros(self.xp_shape, dtype=dcols.dtype)
        # dxp[n, c, rows, cols] += dcols[n, i, j, c, a, b]
        dc = dcols.transpose(0, 3, 1, 2, 4, 5)                                 # N C Ho Wo k k
        np.add.at(dxp, (slice(None), slice(None), rows, cols), dc)
        return dxp[:, :, p:p + H, p:p + W]


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None):
        self.kernel_size = kernel_size
        self.stride = stride or kernel_size

    def forward(self, x):
        k, s = self.kernel_size, self.stride
        self.x_shape = x.shape
        win = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        flat = win.reshape(win.shape[:4] + (k * k,))
        self.idx = flat.argmax(axis=-1)
        return np.take_along_axis(flat, self.idx[..., None], axis=-1)[..., 0]

    def backward(self, grad_output):
        k, s = self.kernel_size, self.stride
        N, C, Ho, Wo = grad_output.shape
        dx = np.zeros(self.x_shape, dtype=grad_output.dtype)
        r = np.arange(Ho)[None, None, :, None] * s + self.idx // k
        c = np.arange(Wo)[None, None, None, :] * s + self.idx % k
        n = np.arange(N)[:, None, None, None]
        ch = np.arange(C)[None, :, None, None]
        np.add.at(dx, (n, ch, r, c), grad_output)
        return dx


class ReLU(Module):
    def forward(self, x):
        self.x = x
        return np.clip(x, 0, None)

    def backward(self, grad_output):
        return grad_output * (self.x > 0)


class Flatten(Module):
    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output):
        return grad_output.reshape(self.x_shape)


class Linear(Module):
    def __init__(self, in_features, out_features):
        k = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(np.random.uniform(-k, k, (out_features, in_features)))
        self.bias = Parameter(np.random.uniform(-k, k, out_features))

    def forward(self, x):
        self.x = x
        return x @ self.weight.data.T + self.bias.data

    def backward(self, grad_output):
        self.weight.grad = grad_output.T @ self.x
        self.bias.grad = grad_output.sum(axis=0)
        return grad_output @ self.weight.data


class LogSoftmax(Module):
    def __init__(self, dim=1):
        self.dim = dim

    def forward(self, x):
        m = x.max(axis=self.dim, keepdims=True)
        lse = m + np.log(np.exp(x - m).sum(axis=self.dim, keepdims=True))
        self.out = x - lse
        return self.out

    def backward(self, grad_output):
        return grad_output - np.exp(self.out) * grad_output.sum(axis=self.dim, keepdims=True)


class NLLLoss(Module):
    def forward(self, input, target):
        self.input_shape = input.shape
        self.target = target
        return -input[np.arange(input.shape[0]), target].mean()

    def backward(self):
        n = self.input_shape[0]
        g = np.zeros(self.input_shape)
        g[np.arange(n), self.target] = -1.0 / n
        return g


class Sequential(Module):
    def __init__(self, *layers):
        self.layers = list(layers)

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_output):
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output
