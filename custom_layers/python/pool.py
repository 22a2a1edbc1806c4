"""MaxPool2d and AvgPool2d in pure Python, mirroring torch.nn.MaxPool2d / torch.nn.AvgPool2d (F.max_pool2d,
F.avg_pool2d; no padding or dilation, floor mode). With windows x[n][c][oy*sh : oy*sh + kh][ox*sw : ox*sw + kw]:

* MaxPool2d: y = the window's maximum; backward adds dy[n][c][oy][ox] to the window's first maximum in
  row-major order, as torch does.
* AvgPool2d: y = the window's mean; backward adds dy[n][c][oy][ox] / (kh * kw) to each of its elements.

Overlapping windows (stride < kernel_size) add up their gradients.
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


class _Pool2d:
    """What both pools share: kernel_size and stride (None: the kernel, as in torch), and the output size."""

    array_kind = "list"

    def __init__(self, kernel_size, stride=None):
        self._kernel_arg, self._stride_arg = kernel_size, kernel_size if stride is None else stride
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(self._stride_arg, "stride")
        self.params: dict = {}
        self.grads: dict = {}
        self._cache = None

    def _output_size(self, x: list) -> tuple[int, int]:
        """(H_out, W_out) for x of shape (N, C, H, W); ValueError if x is not 4-D or smaller than one window."""
        who = f"{type(self).__name__}(kernel_size={self._kernel_arg}, stride={self._stride_arg})"
        _, _, height, width = check_shape(x, (4,), who, "(N, C, H, W)")
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if height < kh or width < kw:
            raise ValueError(f"{who}: input {height}x{width} is smaller than the window {kh}x{kw}")
        return (height - kh) // sh + 1, (width - kw) // sw + 1  # floor: a partial window is dropped

    def _start_backward(self, dy: list) -> tuple:
        """The cache, after checking that dy has the output's shape (N, C, H_out, W_out)."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        x, (h_out, w_out) = self._cache
        check_same_shape(dy, (len(x), len(x[0]), h_out, w_out), f"{type(self).__name__}.backward")
        return self._cache


class MaxPool2d(_Pool2d):
    """y[n, c, oy, ox] = max of x[n, c, oy*sh : oy*sh + kh, ox*sw : ox*sw + kw]."""

    def forward(self, x: list) -> list:
        h_out, w_out = self._output_size(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
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
        x, (h_out, w_out) = self._start_backward(dy)
        n_batch, channels = len(x), len(x[0])
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


class AvgPool2d(_Pool2d):
    """y[n, c, oy, ox] = mean of x[n, c, oy*sh : oy*sh + kh, ox*sw : ox*sw + kw] = (sum of the window) / (kh * kw).

    Takes torch's arguments but supports what MaxPool2d does: padding 0, floor mode, the divisor kh * kw; any
    other value raises a ValueError naming the argument. count_include_pad only matters with padding.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride)
        for name, value, unsupported in (("padding", padding, pair(padding, "padding", minimum=0) != (0, 0)),
                                         ("ceil_mode", ceil_mode, bool(ceil_mode)),
                                         ("divisor_override", divisor_override, divisor_override is not None)):
            if unsupported:
                raise ValueError(f"AvgPool2d: {name}={value!r} is not supported (only padding=0, ceil_mode=False "
                                 f"and divisor_override=None)")
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x: list) -> list:
        h_out, w_out = self._output_size(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        y = []
        for img in x:
            y_img = []
            for ch in img:
                y_ch = []
                for oy in range(h_out):
                    y_ch.append([sum(window(ch, oy * sh, ox * sw, kh, kw)) / (kh * kw) for ox in range(w_out)])
                y_img.append(y_ch)
            y.append(y_img)
        self._cache = (x, (h_out, w_out))  # backward reads only x's shape
        return y  # (N, C, H_out, W_out)

    def backward(self, dy: list) -> list:
        x, (h_out, w_out) = self._start_backward(dy)
        n_batch, channels = len(x), len(x[0])
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        dx = zeros((n_batch, channels, len(x[0][0]), len(x[0][0][0])))  # floor mode: unread rows keep 0.0
        for n in range(n_batch):
            for c in range(channels):
                for oy in range(h_out):
                    for ox in range(w_out):
                        share = dy[n][c][oy][ox] / (kh * kw)  # d mean / d element = 1 / (kh * kw)
                        for ky in range(kh):
                            row = dx[n][c][oy * sh + ky]
                            for kx in range(kw):
                                row[ox * sw + kx] += share  # +=: overlapping windows add up
        return dx  # (N, C, H, W)

    def __repr__(self) -> str:
        return f"AvgPool2d(kernel_size={self._kernel_arg}, stride={self._stride_arg}, padding=0)"
