"""Conv2d in pure Python, mirroring torch.nn.Conv2d (F.conv2d) on NCHW nested lists:
y[n][o][oy][ox] = bias[o] + sum over (c, ky, kx) of weight[o][c][ky][kx] * x_padded[n][c][oy*sh + ky][ox*sw + kx].
"""

from __future__ import annotations

import math

from lenet_parity.custom_layers.python._lists import (check_same_shape, check_shape, checked_param, dot, flatten,
                                                      pair, positive_int, reshape, transpose, uniform, zeros)


def pad(x: list, ph: int, pw: int) -> list:
    """x with ph rows of zeros above and below each channel and pw zeros either side of each row."""
    if ph == 0 and pw == 0:
        return x  # unfold only reads it
    width = len(x[0][0][0]) + 2 * pw
    zero_rows = [[0.0] * width for _ in range(ph)]
    side = [0.0] * pw
    return [[zero_rows + [side + row + side for row in ch] + zero_rows for ch in img] for img in x]


def unfold(x: list, kh: int, kw: int, sh: int, sw: int, h_out: int, w_out: int) -> list[tuple]:
    """im2col: the patch under the kernel at each output pixel of an (already padded) x, in (n, oy, ox) order,
    patches[(n*h_out + oy)*w_out + ox][(c*kh + ky)*kw + kx] = x[n][c][oy*sh + ky][ox*sw + kx].

    The taps (c, ky, kx) run in the order of the flattened weight[o], so that an output value is one dot product."""
    patches = []
    for img in x:
        for oy in range(h_out):
            band = [row for ch in img for row in ch[oy * sh:oy * sh + kh]]  # the C*kh rows under the kernel
            for ox in range(w_out):
                patch = []
                for row in band:  # in (c, ky) order
                    patch += row[ox * sw:ox * sw + kw]  # taps (c, ky, 0), ..., (c, ky, kw - 1)
                # a tuple, as it is never changed: the garbage collector soon stops tracking a tuple of floats,
                # while it would scan tens of thousands of lists again and again (conv1's unfold ~2.5x slower)
                patches.append(tuple(patch))
    return patches


def patch_sums(patches: list[tuple], w_rows: list[list[float]], bias: list[float]) -> list[list[float]]:
    """y[o][i] = bias[o] + dot(patches[i], w_rows[o]), for every output channel o and output pixel i."""
    return [[b_o + dot(patch, w_o) for patch in patches] for w_o, b_o in zip(w_rows, bias)]


def col2im(dplanes: list[list[float]], shape: tuple[int, ...], kh: int, kw: int, sh: int, sw: int,
           h_out: int, w_out: int) -> list:
    """The adjoint of unfold: dplanes[t][i], tap t = (c*kh + ky)*kw + kx's gradient at output pixel
    i = (n*h_out + oy)*w_out + ox, is added to dx[n][c][oy*sh + ky][ox*sw + kx]. Overlapping windows add up."""
    n_batch, channels = shape[0], shape[1]
    dx = zeros(shape)  # (N, C, H_padded, W_padded)
    for c in range(channels):
        for ky in range(kh):
            for kx in range(kw):
                plane = dplanes[(c * kh + ky) * kw + kx]
                for n in range(n_batch):
                    for oy in range(h_out):
                        row = dx[n][c][oy * sh + ky]
                        for ox in range(w_out):
                            row[ox * sw + kx] += plane[(n * h_out + oy) * w_out + ox]
    return dx


def to_nchw(y_flat: list[list[float]], n_batch: int, h_out: int, w_out: int) -> list:
    """(C, N*H*W) channel rows -> (N, C, H, W) nested lists."""
    size = h_out * w_out
    return [[[y_c[i:i + w_out] for i in range(n * size, (n + 1) * size, w_out)] for y_c in y_flat]
            for n in range(n_batch)]


class Conv2d:
    """y[n, o] = bias[o] + sum over (c, ky, kx) of weight[o, c, ky, kx] * x_padded[n, c, oy*sh + ky, ox*sw + kx].

    Computed with im2col: unfold gathers the patch under the kernel at each output pixel, and each output
    value is the dot product of a patch with the flattened kernel weight[o].
    """

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
        w_rows = [flatten(w_o) for w_o in weight]  # (C_out, C_in*kh*kw), taps (c, ky, kx) as in the patches
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
        # dW[o][t] = sum over output pixels i of dy[o][i] * patches[i][t]: a dot product with tap t's plane
        planes = transpose(patches)  # (C_in*kh*kw, N*H_out*W_out): planes[t][i] = patches[i][t]
        dw_rows = [[dot(dy_o, plane) for plane in planes] for dy_o in dy_flat]
        self.grads = {"weight": [reshape(dw_o, (c_in, kh, kw)) for dw_o in dw_rows]}
        if self.has_bias:
            self.grads["bias"] = [sum(dy_o) for dy_o in dy_flat]
        if not getattr(self, "needs_input_grad", True):  # the first layer: nobody reads dx (torch skips it too)
            return None
        # dplanes[t][i] = sum over output channels o of w_rows[o][t] * dy[o][i]; col2im adds them back into x
        w_taps = transpose(w_rows)  # (C_in*kh*kw, C_out)
        dy_pixels = transpose(dy_flat)  # (N*H_out*W_out, C_out)
        dplanes = [[dot(w_t, dy_i) for dy_i in dy_pixels] for w_t in w_taps]
        dx = col2im(dplanes, (n_batch, c_in, height + 2 * ph, width + 2 * pw), kh, kw, sh, sw, h_out, w_out)
        if ph or pw:
            dx = [[[row[pw:pw + width] for row in ch[ph:ph + height]] for ch in img] for img in dx]
        return dx  # (N, C_in, H, W)

    def __repr__(self) -> str:
        s = f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        return s + (")" if self.has_bias else ", bias=False)")

