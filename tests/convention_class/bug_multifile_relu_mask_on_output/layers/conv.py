"""BUGGY copy of heidi_multifile (multi-file style). BUG (layer: relu, tensor: grad_input), in
layers/activations.py: ReLU.backward builds its mask from the layer OUTPUT with >= 0,
(self.out >= 0), which is True everywhere, so the gradient also flows where the input
was negative. Forward output is correct. Every other file is identical to heidi_multifile.

layers/conv.py -- ConvLayer (heidi_multifile, multi-file style).

ConvLayer(in_channels, n_filters, kernel_size, stride=1, padding=0):
weights (n_filters, in_channels, k, k), biases (n_filters,),
grads in grad_weights / grad_biases. forward(x) -> out, backward(dout) -> dx.
Vectorised with util.im2col_indices (imported as a top-level module).
"""
import numpy as np

from util import im2col_indices, col2im_indices


class ConvLayer:
    def __init__(self, in_channels, n_filters, kernel_size, stride=1, padding=0):
        self.in_channels = in_channels
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.weights = np.random.randn(n_filters, in_channels, kernel_size, kernel_size) / np.sqrt(
            in_channels * kernel_size * kernel_size)
        self.biases = np.zeros(n_filters)
        self.grad_weights = np.zeros_like(self.weights)
        self.grad_biases = np.zeros_like(self.biases)

    def forward(self, x):
        N, C, H, W = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        h_out = (H + 2 * p - k) // s + 1
        w_out = (W + 2 * p - k) // s + 1
        self.x_shape = x.shape
        self.x_cols = im2col_indices(x, k, k, padding=p, stride=s)
        W_row = self.weights.reshape(self.n_filters, -1)
        out = W_row @ self.x_cols + self.biases.reshape(-1, 1)
        out = out.reshape(self.n_filters, h_out, w_out, N).transpose(3, 0, 1, 2)
        return out

    def backward(self, dout):
        k, s, p = self.kernel_size, self.stride, self.padding
        self.grad_biases = np.sum(dout, axis=(0, 2, 3))
        dout_r = dout.transpose(1, 2, 3, 0).reshape(self.n_filters, -1)
        self.grad_weights = (dout_r @ self.x_cols.T).reshape(self.weights.shape)
        dx_cols = self.weights.reshape(self.n_filters, -1).T @ dout_r
        dx = col2im_indices(dx_cols, self.x_shape, k, k, padding=p, stride=s)
        return dx
