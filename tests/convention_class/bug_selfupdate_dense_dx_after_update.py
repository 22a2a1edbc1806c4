"""bug_selfupdate_dense_dx_after_update.py -- BUGGY copy of frank_selfupdate.py (self-updating layers).

BUG (layer: dense / FC, tensor: grad_input): FC.backward(dout, lr) applies the SGD step
to self.W BEFORE computing dx, so dx = dout @ W_new = dout @ (W - lr * dW) instead of
dout @ W (the weights used in the forward pass). The error is lr * dout @ dW, so it
grows with lr (it vanishes only for lr = 0). dW/db (the applied update) and the forward
output are correct. Conv is correct (it computes dx first).

Based on frank_selfupdate.py -- original style description follows.

frank_selfupdate.py -- student: Frank.

Style: "the layer updates itself". Conv and FC have ``backward(dout, lr)``:
they compute dW/db, compute dx with the OLD weights, then do plain SGD in
place (``self.W -= lr * dW``; ``self.b -= lr * db``). The gradients are local
variables and are never stored. Every other layer also takes
``backward(dout, lr=None)`` (lr ignored) so the training loop can call all
layers the same way.

    Conv(in_c, out_c, k, stride=1, padding=0)   W (out_c, in_c, k, k), b (out_c,)
    MaxPool(k=2, stride=2)
    ReLU(), Flatten()
    FC(n_in, n_out)                             W (n_out, n_in), b (n_out,): y = x @ W.T + b
    LogSoftmax(), NLLLoss(): forward(logp, y) -> mean loss, backward() -> dlogp
Data NCHW. Conv forward is a loop over output positions doing
patch.reshape(N, -1) @ W.reshape(F, -1).T.
"""
import numpy as np


class Conv:
    def __init__(self, in_c, out_c, k, stride=1, padding=0):
        self.in_c, self.out_c, self.k = in_c, out_c, k
        self.stride, self.padding = stride, padding
        self.W = np.random.randn(out_c, in_c, k, k) * 0.1
        self.b = np.zeros(out_c)

    def forward(self, x):
        self.x = x
        k, s, p = self.k, self.stride, self.padding
        n, c, h, w = x.shape
        oh = (h + 2 * p - k) // s + 1
        ow = (w + 2 * p - k) // s + 1
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        Wm = self.W.reshape(self.out_c, -1)
        out = np.zeros((n, self.out_c, oh, ow))
        for i in range(oh):
            for j in range(ow):
                patch = self.xp[:, :, i * s:i * s + k, j * s:j * s + k].reshape(n, -1)
                out[:, :, i, j] = patch @ Wm.T + self.b
        return out

    def backward(self, dout, lr):
        k, s, p = self.k, self.stride, self.padding
        n, c, h, w = self.x.shape
        oh, ow = dout.shape[2], dout.shape[3]
        Wm = self.W.reshape(self.out_c, -1)
        dWm = np.zeros_like(Wm)
        dxp = np.zeros_like(self.xp, dtype=float)
        for i in range(oh):
            for j in range(ow):
                patch = self.xp[:, :, i * s:i * s + k, j * s:j * s + k].reshape(n, -1)
                g = dout[:, :, i, j]                     # (n, out_c)
                dWm += g.T @ patch
                dxp[:, :, i * s:i * s + k, j * s:j * s + k] += (g @ Wm).reshape(n, c, k, k)
        db = dout.sum(axis=(0, 2, 3))
        dx = dxp[:, :, p:p + h, p:p + w]
        # SGD step (after dx was computed with the old weights)
        self.W -= lr * dWm.reshape(self.W.shape)
        self.b -= lr * db
        return dx


class MaxPool:
    def __init__(self, k=2, stride=2):
        self.k, self.stride = k, stride

    def forward(self, x):
        self.x = x
        k, s = self.k, self.stride
        n, c, h, w = x.shape
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        out = np.zeros((n, c, oh, ow))
        self.idx = np.zeros((n, c, oh, ow), dtype=int)
        for i in range(oh):
            for j in range(ow):
                win = x[:, :, i * s:i * s + k, j * s:j * s + k].reshape(n, c, -1)
                self.idx[:, :, i, j] = np.argmax(win, axis=2)
                out[:, :, i, j] = np.max(win, axis=2)
        return out

    def backward(self, dout, lr=None):
        k, s = self.k, self.stride
        n, c, h, w = self.x.shape
        dx = np.zeros((n, c, h, w))
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                onehot = np.eye(k * k)[self.idx[:, :, i, j]]           # (n, c, k*k)
                dx[:, :, i * s:i * s + k, j * s:j * s + k] += \
                    (onehot * dout[:, :, i, j, None]).reshape(n, c, k, k)
        return dx


class ReLU:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout, lr=None):
        return dout * (self.x > 0)


class Flatten:
    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout, lr=None):
        return dout.reshape(self.shape)


class FC:
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in)
        self.b = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dout, lr):
        dW = dout.T @ self.x
        db = dout.sum(axis=0)
        self.W -= lr * dW
        self.b -= lr * db
        dx = dout @ self.W
        return dx


class LogSoftmax:
    def forward(self, x):
        z = x - x.max(axis=1, keepdims=True)
        self.out = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return self.out

    def backward(self, dout, lr=None):
        return dout - np.exp(self.out) * dout.sum(axis=1, keepdims=True)


class NLLLoss:
    def forward(self, logp, y):
        self.logp, self.y = logp, y
        return -logp[np.arange(len(y)), y].mean()

    def backward(self, dout=1.0, lr=None):
        d = np.zeros_like(self.logp)
        d[np.arange(len(self.y)), self.y] = -dout / len(self.y)
        return d


def train_step(layers, loss_fn, x, y, lr=0.01):
    for layer in layers:
        x = layer.forward(x)
    loss = loss_fn.forward(x, y)
    d = loss_fn.backward()
    for layer in reversed(layers):
        d = layer.backward(d, lr)
    return loss
