"""BUGGY copy of heidi_multifile (multi-file style). BUG (layer: relu, tensor: grad_input), in
layers/activations.py: ReLU.backward builds its mask from the layer OUTPUT with >= 0,
(self.out >= 0), which is True everywhere, so the gradient also flows where the input
was negative. Forward output is correct. Every other file is identical to heidi_multifile.

layers/pool.py -- PoolLayer (max pooling) for heidi_multifile.

PoolLayer(size=2, stride=2): reshapes (N, C, H, W) to (N*C, 1, H, W) and uses
im2col, as in the CS231n fast layers; gradient to the (first) arg-max.
"""
import numpy as np

from util import im2col_indices, col2im_indices


class PoolLayer:
    def __init__(self, size=2, stride=2):
        self.size = size
        self.stride = stride

    def forward(self, x):
        N, C, H, W = x.shape
        k, s = self.size, self.stride
        h_out = (H - k) // s + 1
        w_out = (W - k) // s + 1
        x_reshaped = x.reshape(N * C, 1, H, W)
        self.x_shape = x.shape
        self.X_col = im2col_indices(x_reshaped, k, k, padding=0, stride=s)
        self.max_idx = np.argmax(self.X_col, axis=0)
        out = self.X_col[self.max_idx, range(self.max_idx.size)]
        out = out.reshape(h_out, w_out, N, C).transpose(2, 3, 0, 1)
        return out

    def backward(self, dout):
        N, C, H, W = self.x_shape
        k, s = self.size, self.stride
        dX_col = np.zeros_like(self.X_col, dtype=dout.dtype)
        dout_flat = dout.transpose(2, 3, 0, 1).ravel()
        dX_col[self.max_idx, range(self.max_idx.size)] = dout_flat
        dX = col2im_indices(dX_col, (N * C, 1, H, W), k, k, padding=0, stride=s)
        return dX.reshape(self.x_shape)
