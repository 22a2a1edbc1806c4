"""Conv2d in pure Python, mirroring torch.nn.Conv2d (F.conv2d): NCHW, weight (out, in, kh, kw), bias (out,).

Computed with im2col: an output pixel is the dot product of its patch (the input values under the kernel,
one per tap (c, ky, kx)) with the flattened kernel; in backward a tap's "plane" is its value in every patch.
"""

from __future__ import annotations

import math
from itertools import accumulate, chain, compress
from operator import add, mul, ne

from lenet_parity.custom_layers.python._lists import (check_same_shape, check_shape, checked_param, flatten,
                                                      pair, positive_int, reshape, uniform, zeros)


def unfold(x: list, kh: int, kw: int, sh: int, sw: int, h_out: int, w_out: int) -> list[tuple]:
    """The patches of an (already padded) x, one per output pixel in (n, oy, ox) order:
    patches[(n*h_out + oy)*w_out + ox][(c*kh + ky)*kw + kx] is x[n][c][oy*sh + ky][ox*sw + kx].
    One zip over C*kh*kw row slices gives an output row's patches, so no Python loop runs per value."""
    col_span = sw * (w_out - 1) + 1
    patches: list[tuple] = []
    for img in x:
        for oy in range(0, sh * h_out, sh):
            patches += zip(*[row[kx:kx + col_span:sw] for ch in img for row in ch[oy:oy + kh] for kx in range(kw)])
    return patches


def col2im(dplanes: list[list[float]], shape: tuple[int, ...], kh: int, kw: int, sh: int, sw: int,
           h_out: int, w_out: int) -> list:
    """The adjoint of unfold: add each tap's plane dplanes[(c*kh + ky)*kw + kx][(n*h_out + oy)*w_out + ox]
    back where that tap read it (overlaps accumulate)."""
    dx = zeros(shape)  # (N, C, H_padded, W_padded)
    row_span, col_span = sh * (h_out - 1) + 1, sw * (w_out - 1) + 1
    planes = iter(dplanes)
    for c in range(shape[1]):
        for ky in range(kh):
            rows = [row for img in dx for row in img[c][ky:ky + row_span:sh]]  # the rows tap (c, ky, *) reads
            for kx in range(kw):
                plane = next(planes)
                for i, row in enumerate(rows):
                    row[kx:kx + col_span:sw] = map(add, row[kx:kx + col_span:sw], plane[i * w_out:(i + 1) * w_out])
    return dx


def pad(x: list, ph: int, pw: int) -> list:
    """Zero padding of the last two dimensions (x itself when there is none)."""
    if ph == 0 and pw == 0:
        return x
    width = len(x[0][0][0]) + 2 * pw
    side = [0.0] * pw
    return [[[[0.0] * width for _ in range(ph)] + [side + row + side for row in ch] + [[0.0] * width for _ in range(ph)]
             for ch in img] for img in x]


def runs(patches: list[tuple]) -> tuple[list[int], list[tuple]]:
    """(slot_of, distinct): the first patch of each run of equal neighbours, and each patch's run index."""
    changed = list(map(ne, patches[1:], patches[:-1]))  # True where a patch differs from the one before
    return list(accumulate(changed, initial=0)), list(compress(patches, chain((True,), changed)))


def patch_sums(patches: list[tuple], w_rows: list[list[float]], bias: list[float]) -> list[list[float]]:
    """y[o][i] = bias[o] + the dot product of patches[i] and w_rows[o], a patch equal to the one before it
    computed once.

    Where the input is flat, neighbouring patches repeat: the blank background of an MNIST digit makes ~230
    of conv1's 576 patches per image repeat the one before. Comparing neighbours costs little (they mostly
    differ in their first value), and a repeated patch gets the very floats it would have got on its own.
    Hashing every patch to catch distant repeats too cost as much as it saved on conv1, and ~9% of conv2.
    """
    slot_of, distinct = runs(patches)
    if len(distinct) == len(patches):  # nothing repeats (conv2 of LeNet)
        return [[b_o + sum(map(mul, p, w_o)) for p in patches] for w_o, b_o in zip(w_rows, bias)]
    return [list(map([b_o + sum(map(mul, p, w_o)) for p in distinct].__getitem__, slot_of))
            for w_o, b_o in zip(w_rows, bias)]


def to_nchw(y_flat: list[list[float]], n_batch: int, h_out: int, w_out: int) -> list:
    """(C, N*H*W) channel rows -> (N, C, H, W) nested lists."""
    size = h_out * w_out
    return [[[y_c[i:i + w_out] for i in range(n * size, (n + 1) * size, w_out)] for y_c in y_flat]
            for n in range(n_batch)]


class Conv2d:
    """y[n, o] = bias[o] + sum over (c, ky, kx) of weight[o, c, ky, kx] * x_padded[n, c, oy*sh + ky, ox*sw + kx]."""

    array_kind = "list"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding", minimum=0)
        self.has_bias = bool(bias)
        kh, kw = self.kernel_size
        # torch's default init, kaiming_uniform_(a=sqrt(5)), reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in));
        # drawn from Python's global generator, which seed_everything() seeds
        bound = 1.0 / math.sqrt(in_channels * kh * kw)
        self.params = {"weight": uniform((out_channels, in_channels, kh, kw), bound)}
        if self.has_bias:
            self.params["bias"] = uniform((out_channels,), bound)
        self.grads: dict = {}
        self._cache = None

    def forward(self, x: list) -> list:
        who = f"Conv2d({self.in_channels}, {self.out_channels})"
        n_batch, c_in, height, width = check_shape(x, (4,), who, "(N, C, H, W)")
        if c_in != self.in_channels:
            raise ValueError(f"{who}: expected x with {self.in_channels} channels, got {c_in}")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if height + 2 * ph < kh or width + 2 * pw < kw:
            raise ValueError(f"{who}: padded input {height + 2 * ph}x{width + 2 * pw} is smaller than "
                             f"the kernel {kh}x{kw}")
        weight = checked_param(self, "weight", (self.out_channels, self.in_channels, kh, kw))
        # without a bias, adding 0.0 changes no value, and one code path is easier to read
        bias = checked_param(self, "bias", (self.out_channels,)) if self.has_bias else [0.0] * self.out_channels
        h_out, w_out = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
        w_rows = [flatten(w_o) for w_o in weight]  # (C_out, C_in*kh*kw), taps in the planes' order
        patches = unfold(pad(x, ph, pw), kh, kw, sh, sw, h_out, w_out)  # (N*H_out*W_out, C_in*kh*kw)
        y_flat = patch_sums(patches, w_rows, bias)  # (C_out, N*H_out*W_out)
        self._cache = ((n_batch, c_in, height, width), patches, w_rows, (h_out, w_out))
        return to_nchw(y_flat, n_batch, h_out, w_out)  # (N, C_out, H_out, W_out)

    def backward(self, dy: list) -> list:
        if self._cache is None:
            raise RuntimeError("Conv2d.backward() called before forward()")
        (n_batch, c_in, height, width), patches, w_rows, (h_out, w_out) = self._cache
        check_same_shape(dy, (n_batch, self.out_channels, h_out, w_out), "Conv2d.backward")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        dy_flat = [flatten([img[o] for img in dy]) for o in range(self.out_channels)]  # (C_out, N*H_out*W_out)
        # dW = dY . planes^T: each weight's gradient is a dot product over every output pixel of the batch
        planes = list(zip(*patches))  # (C_in*kh*kw, N*H_out*W_out): each tap's value in every patch
        dw_rows = [[sum(map(mul, dy_o, plane)) for plane in planes] for dy_o in dy_flat]
        self.grads = {"weight": [reshape(dw_o, (c_in, kh, kw)) for dw_o in dw_rows]}
        if self.has_bias:
            self.grads["bias"] = [sum(dy_o) for dy_o in dy_flat]
        if not getattr(self, "needs_input_grad", True):  # the first layer: nobody reads dx (torch skips it too)
            return None
        # dplanes = W^T . dY: a dot product over the output channels per (tap, output pixel)
        dy_pixels = list(zip(*dy_flat))  # (N*H_out*W_out, C_out)
        dplanes = [[sum(map(mul, w_tap, d)) for d in dy_pixels] for w_tap in zip(*w_rows)]
        dx = col2im(dplanes, (n_batch, c_in, height + 2 * ph, width + 2 * pw), kh, kw, sh, sw, h_out, w_out)
        if ph or pw:
            dx = [[[row[pw:pw + width] for row in ch[ph:ph + height]] for ch in img] for img in dx]
        return dx  # (N, C_in, H, W)

    def __repr__(self) -> str:
        s = f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        return s + (")" if self.has_bias else ", bias=False)")

