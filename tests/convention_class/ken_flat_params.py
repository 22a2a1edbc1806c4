"""ken_flat_params.py -- student: Ken.

Style: parameters as plain attributes with broadcast-friendly bias shapes and
``grad_W`` / ``grad_b`` gradient names.

    Conv2DLayer(c_in, c_out, ksize, stride=1, pad=0)
        self.weight (c_out, c_in, ksize, ksize), self.bias (1, c_out, 1, 1)
        grads self.grad_W (same shape as weight), self.grad_b (1, c_out, 1, 1)
    MaxPool2DLayer(ksize=2, stride=2)
    ReLUActivation()
    Flatten()
    Affine(n_in, n_out)
        self.weight (n_out, n_in)  (torch layout), self.bias (1, n_out)
        grads self.grad_W (n_out, n_in), self.grad_b (1, n_out); y = x @ weight.T + bias
    LogSoftmax(axis=1)
    NLLLoss(): forward(logp, target) -> mean loss; backward(grad_out=1.0) -> d logp
``forward(x)`` / ``backward(grad)`` returning the input gradient. Data NCHW.
Conv uses numpy's sliding_window_view and tensordot.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class Conv2DLayer:
    def __init__(self, c_in, c_out, ksize, stride=1, pad=0):
        self.c_in, self.c_out, self.ksize = c_in, c_out, ksize
        self.stride, self.pad = stride, pad
        std = np.sqrt(2.0 / (c_in * ksize * ksize))
        self.weight = std * np.random.randn(c_out, c_in, ksize, ksize)
        self.bias = np.zeros((1, c_out, 1, 1))
        self.grad_W = np.zeros_like(self.weight)
        self.grad_b = np.zeros_like(self.bias)

    def forward(self, x):
        s, p, k = self.stride, self.pad, self.ksize
        self.x_shape = x.shape
        self.xpad = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
        self.win = sliding_window_view(self.xpad, (k, k), axis=(2, 3))[:, :, ::s, ::s]   # N C Ho Wo k k
        y = np.tensordot(self.win, self.weight, axes=[(1, 4, 5), (1, 2, 3)])            # N Ho Wo F
        return y.transpose(0, 3, 1, 2) + self.bias

    def backward(self, grad):
        s, p, k = self.stride, self.pad, self.ksize
        N, C, H, W = self.x_shape
        self.grad_W = np.tensordot(grad, self.win, axes=[(0, 2, 3), (0, 2, 3)])       # F C k k
        self.grad_b = grad.sum(axis=(0, 2, 3)).reshape(self.bias.shape)
        Ho, Wo = grad.shape[2:]
        dxpad = np.zeros(self.xpad.shape, dtype=np.result_type(grad, self.weight))
        for n in range(N):
            for i in range(Ho):
                for j in range(Wo):
                    dxpad[n, :, i * s:i * s + k, j * s:j * s + k] += \
                        np.tensordot(grad[n, :, i, j], self.weight, axes=1)
        return dxpad[:, :, p:p + H, p:p + W]


class MaxPool2DLayer:
    def __init__(self, ksize=2, stride=2):
        self.ksize, self.stride = ksize, stride

    def forward(self, x):
        k, s = self.ksize, self.stride
        self.x_shape = x.shape
        win = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        flat = win.reshape(win.shape[:4] + (k * k,))
        self.arg = flat.argmax(-1)
        return flat.max(-1)

    def backward(self, grad):
        k, s = self.ksize, self.stride
        N, C, Ho, Wo = grad.shape
        dx = np.zeros(self.x_shape, dtype=grad.dtype)
        for i in range(Ho):
            for j in range(Wo):
                r = i * s + self.arg[:, :, i, j] // k
                c = j * s + self.arg[:, :, i, j] % k
                for n in range(N):
                    dx[n, np.arange(C), r[n], c[n]] += grad[n, :, i, j]
        return dx


class ReLUActivation:
    def forward(self, x):
        self.mask = (x > 0).astype(x.dtype)
        return x * self.mask

    def backward(self, grad):
        return grad * self.mask


class Flatten:
    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))

    def backward(self, grad):
        return grad.reshape(self.x_shape)


class Affine:
    def __init__(self, n_in, n_out):
        self.weight = np.random.randn(n_out, n_in) * np.sqrt(1.0 / n_in)
        self.bias = np.zeros((1, n_out))
        self.grad_W = np.zeros_like(self.weight)
        self.grad_b = np.zeros_like(self.bias)

    def forward(self, x):
        self.x = x
        return x @ self.weight.T + self.bias

    def backward(self, grad):
        self.grad_W = grad.T @ self.x
        self.grad_b = grad.sum(axis=0, keepdims=True)
        return grad @ self.weight


class LogSoftmax:
    def __init__(self, axis=1):
        self.axis = axis

    def forward(self, x):
        a = self.axis
        z = x - x.max(axis=a, keepdims=True)
        self.logp = z - np.log(np.exp(z).sum(axis=a, keepdims=True))
        return self.logp

    def backward(self, grad):
        a = self.axis
        return grad - np.exp(self.logp) * grad.sum(axis=a, keepdims=True)


class NLLLoss:
    def forward(self, logp, target):
        self.logp_shape = logp.shape
        self.target = np.asarray(target, dtype=np.int64)
        rows = np.arange(logp.shape[0])
        return -np.mean(logp[rows, self.target])

    def backward(self, grad_out=1.0):
        n = self.logp_shape[0]
        g = np.zeros(self.logp_shape)
        g[np.arange(n), self.target] = -grad_out / n
        return g
