"""oscar_fprop_bprop.py -- student: Oscar.

Style: older-framework vocabulary: methods ``fprop(x)`` and ``bprop(delta)``
(no forward/backward), and parameters/gradients kept as parallel LISTS
``self.params = [W, b]`` and ``self.grads = [dW, db]`` (in that order).

    ConvolutionalLayer(n_in_channels, n_filters, filter_shape=(5, 5), stride=1, pad=0)
        W (n_filters, n_in_channels, fh, fw), b (n_filters,)
    MaxPoolingLayer(pool_shape=(2, 2), stride=2)
    RectifiedLinear(), FlattenLayer()
    FullyConnectedLayer(n_in, n_out)   W (n_in, n_out), b (n_out,): y = x.dot(W) + b
    LogSoftmaxLayer()
    NegativeLogLikelihood(): fprop(logp, labels) -> mean loss; bprop() -> d logp
bprop returns the gradient with respect to the layer input. Data NCHW.
The conv is an explicit im2col matrix built with Python loops.
"""
import numpy as np


class Layer(object):
    def __init__(self):
        self.params = []
        self.grads = []


class ConvolutionalLayer(Layer):
    def __init__(self, n_in_channels, n_filters, filter_shape=(5, 5), stride=1, pad=0):
        Layer.__init__(self)
        fh, fw = filter_shape
        rng = np.random.RandomState(1234)
        bound = np.sqrt(6.0 / (n_in_channels * fh * fw + n_filters * fh * fw))
        W = rng.uniform(-bound, bound, (n_filters, n_in_channels, fh, fw))
        b = np.zeros((n_filters,))
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.fh, self.fw, self.stride, self.pad = fh, fw, stride, pad

    def _im2col(self, xp, oh, ow):
        N, C = xp.shape[:2]
        fh, fw, s = self.fh, self.fw, self.stride
        col = np.empty((N, oh * ow, C * fh * fw), dtype=xp.dtype)
        for i in range(oh):
            for j in range(ow):
                col[:, i * ow + j, :] = xp[:, :, i * s:i * s + fh, j * s:j * s + fw].reshape(N, -1)
        return col

    def fprop(self, x):
        W, b = self.params
        N, C, H, Wd = x.shape
        p, s = self.pad, self.stride
        oh = (H + 2 * p - self.fh) // s + 1
        ow = (Wd + 2 * p - self.fw) // s + 1
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), 'constant')
        self.col = self._im2col(xp, oh, ow)                        # (N, oh*ow, C*fh*fw)
        Wmat = W.reshape(W.shape[0], -1)
        y = self.col.dot(Wmat.T) + b                               # (N, oh*ow, F)
        self.in_shape = x.shape
        self.out_hw = (oh, ow)
        return y.transpose(0, 2, 1).reshape(N, W.shape[0], oh, ow)

    def bprop(self, delta):
        W, b = self.params
        N, C, H, Wd = self.in_shape
        F = W.shape[0]
        oh, ow = self.out_hw
        p, s, fh, fw = self.pad, self.stride, self.fh, self.fw
        d = delta.reshape(N, F, oh * ow).transpose(0, 2, 1)        # (N, oh*ow, F)
        dW = np.einsum('npf,npk->fk', d, self.col).reshape(W.shape)
        db = d.sum(axis=(0, 1))
        self.grads = [dW, db]
        dcol = d.dot(W.reshape(F, -1))                              # (N, oh*ow, C*fh*fw)
        dxp = np.zeros((N, C, H + 2 * p, Wd + 2 * p), dtype=dcol.dtype)
        for i in range(oh):
            for j in range(ow):
                dxp[:, :, i * s:i * s + fh, j * s:j * s + fw] += dcol[:, i * ow + j, :].reshape(N, C, fh, fw)
        return dxp[:, :, p:p + H, p:p + Wd]


class MaxPoolingLayer(Layer):
    def __init__(self, pool_shape=(2, 2), stride=2):
        Layer.__init__(self)
        self.ph, self.pw = pool_shape
        self.stride = stride

    def fprop(self, x):
        N, C, H, W = x.shape
        ph, pw, s = self.ph, self.pw, self.stride
        oh, ow = (H - ph) // s + 1, (W - pw) // s + 1
        y = np.empty((N, C, oh, ow), dtype=x.dtype)
        self.switches = np.empty((N, C, oh, ow), dtype=np.int64)
        for i in range(oh):
            for j in range(ow):
                w = x[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(N, C, ph * pw)
                self.switches[:, :, i, j] = w.argmax(axis=2)
                y[:, :, i, j] = w.max(axis=2)
        self.in_shape = x.shape
        return y

    def bprop(self, delta):
        N, C, oh, ow = delta.shape
        ph, pw, s = self.ph, self.pw, self.stride
        dx = np.zeros(self.in_shape, dtype=delta.dtype)
        for i in range(oh):
            for j in range(ow):
                block = np.zeros((N, C, ph * pw), dtype=delta.dtype)
                np.put_along_axis(block, self.switches[:, :, i, j][..., None], delta[:, :, i, j][..., None], axis=2)
                dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += block.reshape(N, C, ph, pw)
        return dx


class RectifiedLinear(Layer):
    def fprop(self, x):
        self.x = x
        return x * (x > 0)

    def bprop(self, delta):
        return delta * (self.x > 0)


class FlattenLayer(Layer):
    def fprop(self, x):
        self.in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def bprop(self, delta):
        return delta.reshape(self.in_shape)


class FullyConnectedLayer(Layer):
    def __init__(self, n_in, n_out):
        Layer.__init__(self)
        rng = np.random.RandomState(4321)
        bound = np.sqrt(6.0 / (n_in + n_out))
        W = rng.uniform(-bound, bound, (n_in, n_out))
        b = np.zeros((n_out,))
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]

    def fprop(self, x):
        W, b = self.params
        self.x = x
        return x.dot(W) + b

    def bprop(self, delta):
        W, b = self.params
        self.grads = [self.x.T.dot(delta), delta.sum(axis=0)]
        return delta.dot(W.T)


class LogSoftmaxLayer(Layer):
    def fprop(self, x):
        a = x - x.max(axis=1)[:, None]
        self.y = a - np.log(np.exp(a).sum(axis=1))[:, None]
        return self.y

    def bprop(self, delta):
        return delta - np.exp(self.y) * delta.sum(axis=1)[:, None]


class NegativeLogLikelihood(Layer):
    def fprop(self, logp, labels):
        self.shape = logp.shape
        self.labels = labels
        return -np.mean(logp[np.arange(labels.shape[0]), labels])

    def bprop(self):
        n = self.shape[0]
        d = np.zeros(self.shape)
        d[np.arange(n), self.labels] = -1.0 / n
        return d
