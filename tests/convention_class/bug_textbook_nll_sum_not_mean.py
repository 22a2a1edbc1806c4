"""bug_textbook_nll_sum_not_mean.py -- BUGGY copy of dan_textbook.py ("Deep Learning from Scratch" style).

BUG (layer: loss / NLLLoss, tensors: output AND grad_input): the loss SUMS over the batch
instead of averaging (reduction 'sum' instead of torch's default 'mean'), consistently in
forward and backward: loss and d input are both batch_size times too large.

Based on dan_textbook.py -- original style description follows.

dan_textbook.py -- student: Dan.

Style: the "Deep Learning from Scratch" textbook (common/layers.py + common/util.py).
Layers receive their parameter ARRAYS in the constructor instead of sizes:
    Convolution(W, b, stride=1, pad=0)       W (FN, C, FH, FW), b (FN,)
    Pooling(pool_h, pool_w, stride=1, pad=0)  (note: stride defaults to 1 as in the book;
                                               LeNet needs Pooling(2, 2, stride=2))
    Relu()
    Affine(W, b)                              W (in, out), b (out,); flattens its input itself
    Flatten(), LogSoftmax(), NLLLoss()
``forward(x)`` / ``backward(dout)``; gradients in ``self.dW`` and ``self.db``.
Relu.backward modifies ``dout`` IN PLACE (``dout[self.mask] = 0; dx = dout``)
exactly as the book does, so the caller's array is changed.
NLLLoss.forward(x, t) accepts integer labels or one-hot t (as the book's
SoftmaxWithLoss does); backward(dout=1) returns dx.
Conv and pooling use the book's im2col / col2im. Data NCHW.
"""
import numpy as np


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1

    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], 'constant')
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w))

    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]

    col = col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)
    return col


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)

    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1))
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]

    return img[:, :, pad:H + pad, pad:W + pad]


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout
        return dx


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        out = np.dot(self.x, self.W) + self.b
        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        dx = dx.reshape(*self.original_x_shape)
        return dx


class Flatten:
    def __init__(self):
        self.original_x_shape = None

    def forward(self, x):
        self.original_x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(*self.original_x_shape)


class LogSoftmax:
    def __init__(self):
        self.out = None

    def forward(self, x):
        x = x - np.max(x, axis=1, keepdims=True)
        self.out = x - np.log(np.sum(np.exp(x), axis=1, keepdims=True))
        return self.out

    def backward(self, dout):
        y = np.exp(self.out)
        dx = dout - y * np.sum(dout, axis=1, keepdims=True)
        return dx


class NLLLoss:
    def __init__(self):
        self.loss = None
        self.x = None
        self.t = None

    def forward(self, x, t):
        if t.size == x.size:   # one-hot -> label indices
            t = t.argmax(axis=1)
        self.x = x
        self.t = t
        batch_size = x.shape[0]
        self.loss = -np.sum(x[np.arange(batch_size), t])
        return self.loss

    def backward(self, dout=1):
        batch_size = self.x.shape[0]
        dx = np.zeros_like(self.x)
        dx[np.arange(batch_size), self.t] = -dout
        return dx


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad

        self.x = None
        self.col = None
        self.col_W = None

        self.dW = None
        self.db = None

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = 1 + int((H + 2 * self.pad - FH) / self.stride)
        out_w = 1 + int((W + 2 * self.pad - FW) / self.stride)

        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T

        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

        self.x = x
        self.col = col
        self.col_W = col_W
        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)

        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout)
        self.dW = self.dW.transpose(1, 0).reshape(FN, C, FH, FW)

        dcol = np.dot(dout, self.col_W.T)
        dx = col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)
        return dx


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad

        self.x = None
        self.arg_max = None

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)

        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)

        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

        self.x = x
        self.arg_max = arg_max
        return out

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)

        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))

        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        dx = col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
        return dx


class SimpleLeNet:
    """LeNet-5 in the book's SimpleConvNet style (weights created here, layers get the arrays)."""

    def __init__(self, weight_init_std=0.01):
        rnd = np.random.randn
        self.params = {
            'W1': weight_init_std * rnd(6, 1, 5, 5), 'b1': np.zeros(6),
            'W2': weight_init_std * rnd(16, 6, 5, 5), 'b2': np.zeros(16),
            'W3': weight_init_std * rnd(400, 120), 'b3': np.zeros(120),
            'W4': weight_init_std * rnd(120, 84), 'b4': np.zeros(84),
            'W5': weight_init_std * rnd(84, 10), 'b5': np.zeros(10),
        }
        p = self.params
        self.layers = [Convolution(p['W1'], p['b1'], stride=1, pad=2), Pooling(2, 2, stride=2), Relu(),
                       Convolution(p['W2'], p['b2']), Pooling(2, 2, stride=2), Relu(), Flatten(),
                       Affine(p['W3'], p['b3']), Relu(), Affine(p['W4'], p['b4']), Relu(),
                       Affine(p['W5'], p['b5']), LogSoftmax()]
        self.last_layer = NLLLoss()

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)
