"""bob_attributes.py -- student: Bob.

Style: "plain attributes". Classes Conv2D, MaxPool, Relu, Dense, FlattenLayer,
LogSoftmaxLayer, NLLLossLayer. Constructors:
    Conv2D(in_ch, num_filters, filter_size, stride=1, pad=0)
    MaxPool(pool_size=2, stride=2)
    Dense(input_dim, output_dim)
Parameters are attributes ``W`` and ``b``; gradients ``dW`` and ``db``
(overwritten by each backward).
Layouts: Conv2D.W is (num_filters, in_ch, filter_size, filter_size), b is
(num_filters,). Dense.W is (input_dim, output_dim) -- forward is X @ W + b --
and b is (output_dim,). Data NCHW.
``forward(X)`` returns the output, ``backward(dout)`` returns dX.
NLLLossLayer.forward(log_probs, labels) -> scalar mean loss,
NLLLossLayer.backward() -> d log_probs (no argument).
Convolution and pooling are the naive four-nested-loop version.
"""
import numpy as np


class Conv2D:
    def __init__(self, in_ch, num_filters, filter_size, stride=1, pad=0):
        self.in_ch = in_ch
        self.num_filters = num_filters
        self.filter_size = filter_size
        self.stride = stride
        self.pad = pad
        fan_in = in_ch * filter_size * filter_size
        self.W = np.random.randn(num_filters, in_ch, filter_size, filter_size) * np.sqrt(2.0 / fan_in)
        self.b = np.zeros(num_filters)
        self.dW = None
        self.db = None

    def forward(self, X):
        self.X = X
        N, C, H, W = X.shape
        F, HH, WW = self.num_filters, self.filter_size, self.filter_size
        s, p = self.stride, self.pad
        H_out = 1 + (H + 2 * p - HH) // s
        W_out = 1 + (W + 2 * p - WW) // s
        self.X_pad = np.pad(X, ((0, 0), (0, 0), (p, p), (p, p)), mode="constant")
        out = np.zeros((N, F, H_out, W_out))
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        hs, ws = i * s, j * s
                        window = self.X_pad[n, :, hs:hs + HH, ws:ws + WW]
                        out[n, f, i, j] = np.sum(window * self.W[f]) + self.b[f]
        return out

    def backward(self, dout):
        N, C, H, W = self.X.shape
        F, HH, WW = self.num_filters, self.filter_size, self.filter_size
        s, p = self.stride, self.pad
        _, _, H_out, W_out = dout.shape
        dX_pad = np.zeros_like(self.X_pad, dtype=np.float64)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        for n in range(N):
            for f in range(F):
                self.db[f] += np.sum(dout[n, f])
                for i in range(H_out):
                    for j in range(W_out):
                        hs, ws = i * s, j * s
                        window = self.X_pad[n, :, hs:hs + HH, ws:ws + WW]
                        self.dW[f] += window * dout[n, f, i, j]
                        dX_pad[n, :, hs:hs + HH, ws:ws + WW] += self.W[f] * dout[n, f, i, j]
        dX = dX_pad[:, :, p:p + H, p:p + W]
        return dX


class MaxPool:
    def __init__(self, pool_size=2, stride=2):
        self.pool_size = pool_size
        self.stride = stride

    def forward(self, X):
        self.X = X
        N, C, H, W = X.shape
        k, s = self.pool_size, self.stride
        H_out = 1 + (H - k) // s
        W_out = 1 + (W - k) // s
        out = np.zeros((N, C, H_out, W_out))
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        out[n, c, i, j] = np.max(X[n, c, i * s:i * s + k, j * s:j * s + k])
        return out

    def backward(self, dout):
        N, C, H, W = self.X.shape
        k, s = self.pool_size, self.stride
        _, _, H_out, W_out = dout.shape
        dX = np.zeros_like(self.X, dtype=np.float64)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        window = self.X[n, c, i * s:i * s + k, j * s:j * s + k]
                        a, b = np.unravel_index(np.argmax(window), window.shape)
                        dX[n, c, i * s + a, j * s + b] += dout[n, c, i, j]
        return dX


class Relu:
    def forward(self, X):
        self.X = X
        return np.maximum(0, X)

    def backward(self, dout):
        dX = dout.copy()
        dX[self.X <= 0] = 0
        return dX


class Dense:
    def __init__(self, input_dim, output_dim):
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.W = np.random.randn(input_dim, output_dim) * np.sqrt(2.0 / input_dim)
        self.b = np.zeros(output_dim)
        self.dW = None
        self.db = None

    def forward(self, X):
        self.X = X
        return X @ self.W + self.b

    def backward(self, dout):
        self.dW = self.X.T @ dout
        self.db = np.sum(dout, axis=0)
        return dout @ self.W.T


class FlattenLayer:
    def forward(self, X):
        self.shape = X.shape
        return X.reshape(X.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.shape)


class LogSoftmaxLayer:
    def forward(self, X):
        X_max = np.max(X, axis=1, keepdims=True)
        log_sum = np.log(np.sum(np.exp(X - X_max), axis=1, keepdims=True))
        self.out = X - X_max - log_sum
        return self.out

    def backward(self, dout):
        softmax = np.exp(self.out)
        return dout - softmax * np.sum(dout, axis=1, keepdims=True)


class NLLLossLayer:
    def forward(self, log_probs, labels):
        self.log_probs = log_probs
        self.labels = np.asarray(labels, dtype=int)
        N = log_probs.shape[0]
        return -np.mean(log_probs[np.arange(N), self.labels])

    def backward(self):
        N = self.log_probs.shape[0]
        d = np.zeros_like(self.log_probs)
        d[np.arange(N), self.labels] = -1.0 / N
        return d
