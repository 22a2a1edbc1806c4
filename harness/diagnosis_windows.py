"""Hypotheses for the sliding-window layers (Conv2d, MaxPool2d, AvgPool2d): their kernels, padding, strides and
overlaps.

Registered in diagnosis.py's HYPOTHESES. Each recomputes the layer as the classic bug would, with our NumPy twin
or a loop as short as the bug's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.harness.diagnosis_evidence import Diagnosis, Evidence

WINDOWED = ("Conv2d", "MaxPool2d", "AvgPool2d")
POOLS = ("MaxPool2d", "AvgPool2d")


def _pair(v: Any) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def geometry(ev: Evidence) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(kernel, stride, padding), each (along H, along W); a pool's stride defaults to its kernel."""
    k = _pair(ev.kwargs.get("kernel_size", 2))
    s = _pair(ev.kwargs.get("stride") or (1 if ev.cls == "Conv2d" else k))
    return k, s, _pair(ev.kwargs.get("padding", 0))


def _twin(ev: Evidence, *, cls: str | None = None, kwargs: dict | None = None, x: np.ndarray | None = None,
          dy: np.ndarray | None = None, weight: np.ndarray | None = None):
    """Our NumPy layer of the evidence's class (or ``cls``, with ``kwargs``), its params (or another weight), run
    forward on x (the evidence's or another), and backward on dy when that fits the output: (y, dx, grads); all
    None when our layer does not take these arguments (a diagnosis must not crash the check)."""
    from lenet_parity.custom_layers import numpy as npl

    try:
        layer = getattr(npl, cls or ev.cls)(**(ev.kwargs if kwargs is None else kwargs))
    except (TypeError, ValueError, NotImplementedError):
        return None, None, {}
    layer.params = {k: np.asarray(v, dtype=np.float64) for k, v in ev.params.items()}
    if weight is not None:
        layer.params["weight"] = weight
    y = layer.forward(np.asarray(ev.x if x is None else x, dtype=np.float64))
    dy = ev.dy if dy is None else dy
    if dy is None or np.shape(dy) != y.shape:
        return y, None, {}
    return y, layer.backward(np.asarray(dy, dtype=np.float64)), layer.grads


def _windows(x: np.ndarray, k: tuple[int, int], s: tuple[int, int]):
    n, c, h, w = x.shape
    for oy in range((h - k[0]) // s[0] + 1):
        for ox in range((w - k[1]) // s[1] + 1):
            yield oy, ox, x[:, :, oy * s[0]:oy * s[0] + k[0], ox * s[1]:ox * s[1] + k[1]].reshape(n, c, -1)


def hard_coded_crop(ev: Evidence) -> Diagnosis | None:
    """Conv backward cutting a fixed border off the padded gradient (dx_pad[:, :, 1:-1, 1:-1], or the padding of
    another layer) instead of this layer's own padding."""
    if ev.cls != "Conv2d" or ev.tensor != "grad_input" or ev.x is None or ev.dy is None or "weight" not in ev.params:
        return None
    _, _, p = geometry(ev)
    padded = np.pad(np.asarray(ev.x, dtype=np.float64), ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    _, dxp, _ = _twin(ev, x=padded, kwargs={**ev.kwargs, "padding": 0})
    if dxp is None:
        return None
    (hp, wp), (h, w) = dxp.shape[2:], ev.x.shape[2:]
    own = p[0] if p[0] == p[1] else p
    for q in range(1, 4):
        if (q, q) == p:
            continue
        if ev.matches(dxp[:, :, q:hp - q, q:wp - q]):
            return Diagnosis("crop", f"backward cuts a fixed {q} off each side of dx_pad (dx_pad[:, :, {q}:-{q}, "
                                     f"{q}:-{q}]), but this layer's padding is {own}: cut its own, "
                                     f"dx_pad[:, :, p:p+H, p:p+W]")
        if q + h <= hp and q + w <= wp and ev.matches(dxp[:, :, q:q + h, q:q + w]):
            return Diagnosis("crop", f"backward cuts dx out of dx_pad from a fixed offset {q} (dx_pad[:, :, {q}:{q}+H, "
                                     f"{q}:{q}+W]), but this layer's padding is {own}: start at its own padding")
    if p != (0, 0) and ev.matches(dxp[:, :, :h, :w]):
        return Diagnosis("crop", f"backward cuts dx from dx_pad's top-left corner (dx_pad[:, :, :H, :W]); the padding "
                                 f"({own}) is on every side, so dx starts at it: dx_pad[:, :, p:p+H, p:p+W]")
    return None


def stride_ignored_in_forward(ev: Evidence) -> Diagnosis | None:
    """Windows that slide by 1 whatever the stride: output (r, c) read from x[r:r+k, c:c+k] instead of
    x[r*s:r*s+k, c*s:c*s+k] (the stride used for the output size only)."""
    if ev.cls not in WINDOWED or ev.tensor != "output" or ev.x is None or ev.got.ndim != 4:
        return None
    _, s, _ = geometry(ev)
    if s == (1, 1):
        return None
    y, _, _ = _twin(ev, kwargs={**ev.kwargs, "stride": 1})
    ho, wo = ev.got.shape[2:]
    if y is None or y.shape[2] < ho or y.shape[3] < wo or not ev.matches(y[:, :, :ho, :wo]):
        return None
    return Diagnosis("stride", f"the windows slide by 1, not by the stride {s[0] if s[0] == s[1] else s}: output "
                               f"(r, c) reads x[r:r+k, c:c+k]; its window starts at (r*stride, c*stride)")


def hw_swapped_layer(ev: Evidence) -> Diagnosis | None:
    """Height and width swapped in a loop or an index: the layer as if run on x.swapaxes(-1, -2) and swapped back,
    e.g. a conv reading its kernel as w[:, :, j, i]."""
    if ev.cls not in WINDOWED or ev.x is None or ev.got.ndim != 4 or ev.got.shape != ev.expected.shape:
        return None
    if any(a != b for a, b in geometry(ev)):  # non-square arguments change meaning when swapped
        return None
    dy = None if ev.dy is None else np.asarray(ev.dy).swapaxes(-1, -2)
    y, dx, grads = _twin(ev, x=np.asarray(ev.x).swapaxes(-1, -2), dy=dy)
    candidate = {"output": y, "grad_input": dx, **{f"grad_{k}": v for k, v in grads.items()}}.get(ev.tensor)
    if candidate is None or candidate.ndim != 4 or ev.matches(ev.expected):
        return None
    if not ev.matches(candidate.swapaxes(-1, -2)):  # (a pool's swap shows only where its windows hold ties)
        return None
    return Diagnosis("hw-swap", f"{ev.tensor} is what the layer gives on x with H and W swapped (x.swapaxes(-1, -2), "
                                f"then swapped back): a loop or index uses W where H belongs, e.g. w[:, :, j, i] "
                                f"for w[:, :, i, j]")


def flipped_kernel(ev: Evidence) -> Diagnosis | None:
    """A true convolution (kernel flipped) where torch's Conv2d computes a cross-correlation; in backward, dx
    computed with the kernel unflipped (or flipped twice), or dW returned flipped."""
    if ev.cls != "Conv2d" or ev.x is None or "weight" not in ev.params:
        return None
    flipped = np.asarray(ev.params["weight"], dtype=np.float64)[:, :, ::-1, ::-1].copy()
    if ev.tensor == "grad_weight" and ev.matches(ev.expected[:, :, ::-1, ::-1]):
        return Diagnosis("flipped-kernel", "grad_weight is flipped in both spatial axes: dW[o, c, ky, kx] sums "
                                           "dy[o, y, x] * x[c, y+ky, x+kx], with no flip")
    if ev.tensor not in ("output", "grad_input"):
        return None
    y, dx, _ = _twin(ev, weight=flipped)
    if ev.tensor == "output" and ev.matches(y):
        return Diagnosis("flipped-kernel", "the kernel is flipped (a true convolution): torch's Conv2d slides the "
                                           "weight as it is (cross-correlation), w[o, c, ky, kx] * x[.., y+ky, x+kx]")
    if ev.tensor == "grad_input" and dx is not None and ev.matches(dx):
        return Diagnosis("flipped-kernel", "dx is computed with the kernel the wrong way round: the full "
                                           "correlation of dy needs the kernel flipped (w[:, :, ::-1, ::-1]), once")
    return None


def one_sided_padding(ev: Evidence) -> Diagnosis | None:
    """Padding 2p added on one side and none on the other, where torch pads p on every side (a conv, or the conv
    inside a residual block, y = x + conv(x))."""
    if ev.cls not in ("Conv2d", "Residual") or ev.tensor != "output" or ev.x is None or "weight" not in ev.params:
        return None
    residual = ev.cls == "Residual"
    kwargs = ev.kwargs
    if residual:
        k = kwargs.get("kernel_size", 3)
        kwargs = dict(in_channels=kwargs["channels"], out_channels=kwargs["channels"], kernel_size=k, padding=k // 2)
    ph, pw = _pair(kwargs.get("padding", 0))
    if not (ph or pw):
        return None
    x = np.asarray(ev.x, dtype=np.float64)
    for before, after, where in (((2 * ph, 2 * pw), (0, 0), "top and left"), ((0, 0), (2 * ph, 2 * pw), "bottom and right")):
        padded = np.pad(x, ((0, 0), (0, 0), (before[0], after[0]), (before[1], after[1])))
        y, _, _ = _twin(ev, cls="Conv2d", kwargs={**kwargs, "padding": 0}, x=padded)
        if y is not None and ev.matches(x + y if residual else y):
            return Diagnosis("border", f"the padding went all to the {where} (2*padding on one side, none on the "
                                       f"other); torch pads `padding` zeros on every side")
    return None


def _pool_mask(ev: Evidence, pick: str) -> np.ndarray:
    """Which element of each window gets its gradient, (N, C, H_out, W_out, kh, kw): the first maximum in row-major
    order (torch), the last one, or every tied one."""
    k, s, _ = geometry(ev)
    mask = np.zeros((*ev.dy.shape, k[0] * k[1]), dtype=bool)
    for oy, ox, win in _windows(np.asarray(ev.x, dtype=np.float64), k, s):
        if pick == "every":
            mask[:, :, oy, ox] = win == win.max(axis=2, keepdims=True)
            continue
        at = np.argmax(win, axis=2) if pick == "first" else win.shape[2] - 1 - np.argmax(win[:, :, ::-1], axis=2)
        np.put_along_axis(mask[:, :, oy, ox], at[..., None], True, axis=2)
    return mask.reshape(*ev.dy.shape, *k)


def _window_blocks(ev: Evidence) -> tuple[np.ndarray, np.ndarray | None]:
    """What each output position sends back to its window, (N, C, H_out, W_out, kh, kw): the kernel times dy for a
    conv; dy / (kh * kw) to every element for an average pool; dy at the window's first maximum for a max-pool,
    with the mask of that maximum."""
    dy = np.asarray(ev.dy, dtype=np.float64)
    if ev.cls == "Conv2d":
        return np.einsum("noyx,ocij->ncyxij", dy, np.asarray(ev.params["weight"], dtype=np.float64)), None
    if ev.cls == "AvgPool2d":
        k = geometry(ev)[0]
        return np.broadcast_to((dy / (k[0] * k[1]))[..., None, None], (*dy.shape, *k)), None
    mask = _pool_mask(ev, "first")
    return mask * dy[..., None, None], mask


def _scatter(blocks: np.ndarray, shape: tuple, step: tuple[int, int], *, overwrite: bool = False,
             mask: np.ndarray | None = None) -> np.ndarray:
    """The blocks put back window by window, output rows then columns, ``step`` apart: added up (col2im), or
    written with `=` (a later window replaces an earlier one where they overlap; only at the mask's elements when
    given: a pool's dx[max] = dy). A window that a wrong step puts past the border is cut off, as slicing does."""
    out = np.zeros(shape)
    kh, kw = blocks.shape[-2:]
    for oy in range(blocks.shape[2]):
        for ox in range(blocks.shape[3]):
            region = out[:, :, oy * step[0]:oy * step[0] + kh, ox * step[1]:ox * step[1] + kw]
            block = blocks[:, :, oy, ox, :region.shape[2], :region.shape[3]]
            if mask is not None:
                mask_block = mask[:, :, oy, ox, :region.shape[2], :region.shape[3]]
            if not overwrite:
                region += block
            else:
                region[...] = block if mask is None else np.where(mask_block, block, region)
    return out


def _overwritten_by_offset(blocks: np.ndarray, shape: tuple, s: tuple[int, int]) -> np.ndarray:
    """The blocks written kernel offset by offset, dx[:, :, i::stride, j::stride] = ...: later offsets replace
    earlier ones where windows overlap."""
    out = np.zeros(shape)
    ho, wo, kh, kw = blocks.shape[2:]
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + s[0] * (ho - 1) + 1:s[0], j:j + s[1] * (wo - 1) + 1:s[1]] = blocks[:, :, :, :, i, j]
    return out


def _cropped(ev: Evidence, dxp: np.ndarray) -> np.ndarray:
    (ph, pw), (h, w) = geometry(ev)[2], ev.x.shape[2:]
    return dxp[:, :, ph:ph + h, pw:pw + w]


def _padded_shape(ev: Evidence) -> tuple[int, int, int, int]:
    (ph, pw), (n, c, h, w) = geometry(ev)[2], ev.x.shape
    return n, c, h + 2 * ph, w + 2 * pw


def stride_ignored_in_backward(ev: Evidence) -> Diagnosis | None:
    """Conv backward scattering output (r, c)'s window back at (r, c), not (r*stride, c*stride): a loop tested
    with stride 1 only."""
    if ev.cls != "Conv2d" or ev.tensor != "grad_input" or ev.x is None or ev.dy is None or "weight" not in ev.params:
        return None
    if geometry(ev)[1] == (1, 1):
        return None
    if ev.matches(_cropped(ev, _scatter(_window_blocks(ev)[0], _padded_shape(ev), (1, 1)))):
        return Diagnosis("stride", "backward puts output (r, c)'s window back at (r, c); with a stride it belongs at "
                                   "(r*stride, c*stride): the loop was only ever run with stride 1")
    return None


def stride_as_kernel(ev: Evidence) -> Diagnosis | None:
    """Pool backward putting output (r, c)'s window back at (r*kernel, c*kernel): the stride taken to be the window
    size, right only for the default stride (= kernel_size)."""
    if ev.cls not in POOLS or ev.tensor != "grad_input" or ev.x is None or ev.dy is None:
        return None
    k, s, _ = geometry(ev)
    if k == s:
        return None
    blocks, mask = _window_blocks(ev)
    if ev.matches(_cropped(ev, _scatter(blocks, _padded_shape(ev), k, mask=mask))):
        return Diagnosis("stride", f"backward puts output (r, c)'s window back at (r*kernel, c*kernel); with stride "
                                   f"{s[0] if s[0] == s[1] else s} (not the kernel size {k[0] if k[0] == k[1] else k}) "
                                   f"it belongs at (r*stride, c*stride): the loop assumed stride == kernel_size")
    return None


def overwritten(ev: Evidence) -> Diagnosis | None:
    """Overlapping windows' gradients overwritten instead of accumulated: a conv's col2im, or a max-pool backward
    with stride < kernel, written with `=` where `+=` belongs."""
    if ev.cls not in WINDOWED or ev.tensor != "grad_input" or ev.x is None or ev.dy is None:
        return None
    k, s, _ = geometry(ev)
    if (k[0] <= s[0] and k[1] <= s[1]) or (ev.cls == "Conv2d" and "weight" not in ev.params):
        return None  # windows that do not overlap: = and += agree
    blocks, mask = _window_blocks(ev)
    shape = _padded_shape(ev)
    candidates = [(_scatter(blocks, shape, s, overwrite=True, mask=m), "dx[window] = ... in the loop over output "
                   "positions") for m in ([None] if mask is None else [mask, None])]
    candidates.append((_overwritten_by_offset(blocks, shape, s), "dx[:, :, i::stride, j::stride] = ... in the loop "
                                                                 "over kernel offsets"))
    for dxp, where in candidates:
        if ev.matches(_cropped(ev, dxp)):
            return Diagnosis("overwritten", f"where windows overlap, a later window's gradient replaces an earlier "
                                            f"one's ({where}): use += so every window's contribution adds up")
    return None


def short_window(ev: Evidence) -> Diagnosis | None:
    """A pooling window one short in each direction: range(k - 1) where range(k) was meant."""
    if ev.cls != "MaxPool2d" or ev.tensor != "output" or ev.x is None:
        return None
    k, s, _ = geometry(ev)
    if min(k) < 2:
        return None
    x = np.asarray(ev.x, dtype=np.float64)
    ho, wo = (x.shape[2] - k[0]) // s[0] + 1, (x.shape[3] - k[1]) // s[1] + 1
    short = np.full((x.shape[0], x.shape[1], ho, wo), -np.inf)
    for i in range(k[0] - 1):
        for j in range(k[1] - 1):
            short = np.maximum(short, x[:, :, i:i + s[0] * (ho - 1) + 1:s[0], j:j + s[1] * (wo - 1) + 1:s[1]])
    if ev.matches(short):
        return Diagnosis("window", f"each window is one short: it reads {k[0] - 1}x{k[1] - 1} of its {k[0]}x{k[1]} "
                                   f"values (range(k - 1) where range(k) was meant)")
    return None


def tie_break(ev: Evidence) -> Diagnosis | None:
    """Max-pool's gradient sent to the LAST tied maximum, or to every one; torch sends it to the first."""
    if ev.cls != "MaxPool2d" or ev.tensor != "grad_input" or ev.x is None or ev.dy is None:
        return None
    dy = np.asarray(ev.dy, dtype=np.float64)[..., None, None]
    if ev.matches(_cropped(ev, _scatter(_pool_mask(ev, "last") * dy, _padded_shape(ev), geometry(ev)[1]))):
        return Diagnosis("tie-break", "where a window holds tied maxima the gradient went to the LAST one; torch sends "
                                      "it to the first in row-major order (compare with >, not >=)")
    if ev.matches(_cropped(ev, _scatter(_pool_mask(ev, "every") * dy, _padded_shape(ev), geometry(ev)[1]))):
        return Diagnosis("tie-break", "where a window holds tied maxima every one of them got the gradient; torch sends "
                                      "it to the first only (a mask x == max marks them all)")
    return None


def whole_window(ev: Evidence) -> Diagnosis | None:
    """Max-pool's gradient sent to every element of each window (dy broadcast, as average pooling does), or spread
    over it (dy / (kh * kw)); torch's max-pool sends it to the window's maximum only."""
    if ev.cls != "MaxPool2d" or ev.tensor != "grad_input" or ev.x is None or ev.dy is None:
        return None
    k, s, _ = geometry(ev)
    ones = np.ones((*ev.dy.shape, *k)) * np.asarray(ev.dy, dtype=np.float64)[..., None, None]
    if ev.matches(_cropped(ev, _scatter(ones, _padded_shape(ev), s))):
        return Diagnosis("whole-window", "every element of each window got the gradient (dy broadcast over the "
                                         "window); max-pool sends it to the window's maximum only: dx[argmax] = dy")
    if ev.matches(_cropped(ev, _scatter(ones / (k[0] * k[1]), _padded_shape(ev), s))):
        return Diagnosis("whole-window", "the gradient was averaged over each window (average pooling's backward); "
                                         "max-pool sends all of dy to the window's maximum")
    return None
