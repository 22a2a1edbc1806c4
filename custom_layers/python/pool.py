"""MaxPool2d in pure Python, mirroring torch.nn.MaxPool2d (F.max_pool2d; no padding or dilation, floor mode):
y[n][c][oy][ox] = max over (ky, kx) of x[n][c][oy*sh + ky][ox*sw + kx]; backward adds dy[n][c][oy][ox] to the
window's first maximum in row-major order, as torch does (overlapping windows add up).
"""

from __future__ import annotations

from lenet_parity.custom_layers.python._lists import check_same_shape, check_shape, pair, zeros


def window(ch: list, y0: int, x0: int, kh: int, kw: int) -> list:
    """The kh x kw window of channel ch whose top-left corner is (y0, x0), in row-major order."""
    return [v for row in ch[y0:y0 + kh] for v in row[x0:x0 + kw]]


def torch_argmax(values: list) -> int:
    """The position of the maximum by torch's kernel rule, ``val > maxval || isnan(val)``: a later value wins
    only if it is strictly greater, or NaN. So the FIRST of tied maxima gets the gradient, and a NaN wins
    (and propagates), where Python's max() would ignore a NaN after the first value."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best] or v != v:  # v != v only for NaN
            best = i
    return best


class MaxPool2d:
    """y[n, c, oy, ox] = max of x[n, c, oy*sh : oy*sh + kh, ox*sw : ox*sw + kw]."""

    array_kind = "list"

    def __init__(self, kernel_size, stride=None):
        self._kernel_arg, self._stride_arg = kernel_size, kernel_size if stride is None else stride
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(self._stride_arg, "stride")
        self.params: dict = {}
        self.grads: dict = {}
        self._cache = None

    def forward(self, x: list) -> list:
        who = f"MaxPool2d(kernel_size={self._kernel_arg}, stride={self._stride_arg})"
        _, _, height, width = check_shape(x, (4,), who, "(N, C, H, W)")
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if height < kh or width < kw:
            raise ValueError(f"{who}: input {height}x{width} is smaller than the window {kh}x{kw}")
        h_out, w_out = (height - kh) // sh + 1, (width - kw) // sw + 1  # floor: a partial window is dropped
        y = []
        for img in x:
            y_img = []
            for ch in img:
                y_ch = []
                for oy in range(h_out):
                    y_row = []
                    for ox in range(w_out):
                        values = window(ch, oy * sh, ox * sw, kh, kw)
                        y_row.append(values[torch_argmax(values)])
                    y_ch.append(y_row)
                y_img.append(y_ch)
            y.append(y_img)
        self._cache = (x, (h_out, w_out))  # not y: the caller owns it and may change it
        return y  # (N, C, H_out, W_out)

    def backward(self, dy: list) -> list:
        if self._cache is None:
            raise RuntimeError("MaxPool2d.backward() called before forward()")
        x, (h_out, w_out) = self._cache
        n_batch, channels = len(x), len(x[0])
        check_same_shape(dy, (n_batch, channels, h_out, w_out), "MaxPool2d.backward")
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        dx = zeros((n_batch, channels, len(x[0][0]), len(x[0][0][0])))
        for n in range(n_batch):
            for c in range(channels):
                for oy in range(h_out):
                    for ox in range(w_out):
                        i = torch_argmax(window(x[n][c], oy * sh, ox * sw, kh, kw))
                        ky, kx = divmod(i, kw)  # the window is in row-major order
                        # += rather than =: overlapping windows (stride < kernel_size) may pick the same x
                        dx[n][c][oy * sh + ky][ox * sw + kx] += dy[n][c][oy][ox]
        return dx  # (N, C, H, W)

    def __repr__(self) -> str:
        return (f"MaxPool2d(kernel_size={self._kernel_arg}, stride={self._stride_arg}, padding=0, "
                f"dilation=1, ceil_mode=False)")
