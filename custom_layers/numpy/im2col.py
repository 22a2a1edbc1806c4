"""im2col / col2im: unfold (N, C, H, W) into window columns for one matmul, and fold gradients back.

Mirrors torch.nn.functional.unfold / fold. One strided view (or a loop over the kh*kw kernel offsets)
copies the windows, a loop over the offsets adds them back; nothing loops over pixels or batch items.
On the wide grid, a convolution's input gradient skips col2im (see input_grad).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided


@dataclass(frozen=True)
class Geometry:
    n: int
    c: int
    h: int  # input height and width, before padding
    w: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    ho: int  # output height and width
    wo: int
    # The "wide" trick (stride 1 only): the column grid's rows are the padded width long, so every kernel
    # offset is ONE contiguous run of the flattened padded input; the pitch - wo extra columns per row hold
    # other pixels, which narrow() drops and widen() multiplies by zero. Otherwise pitch == wo.
    wide: bool
    pitch: int

    @property
    def hp(self) -> int:
        return self.h + 2 * self.ph

    @property
    def wp(self) -> int:
        return self.w + 2 * self.pw


def geometry(shape: tuple, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
             name: str = "layer", wide: bool = True) -> Geometry:
    """The window grid; ``wide=False`` forbids the wide trick (its extra columns would turn an inf of x
    into 0 * inf = NaN in the weight gradient, where torch stays finite)."""
    n, c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1  # torch's floor mode
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise ValueError(f"{name}: input {h}x{w} (padded {h + 2 * ph}x{w + 2 * pw}) is smaller than "
                         f"the kernel {kh}x{kw}")
    wide = wide and (sh, sw) == (1, 1)
    return Geometry(n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo, wide, w + 2 * pw if wide else wo)


def _padded_flat(x: np.ndarray, g: Geometry) -> np.ndarray:
    """Zero-padded x flattened per (n, c), with kw - 1 spare zeros so the last wide run stays in bounds."""
    flat = np.zeros((g.n, g.c, g.hp * g.wp + g.kw - 1), dtype=x.dtype)
    flat[:, :, :g.hp * g.wp].reshape(g.n, g.c, g.hp, g.wp)[:, :, g.ph:g.ph + g.h, g.pw:g.pw + g.w] = x
    return flat


def _slices(g: Geometry, i: int, j: int) -> tuple[slice, slice]:
    return slice(i, i + g.sh * (g.ho - 1) + 1, g.sh), slice(j, j + g.sw * (g.wo - 1) + 1, g.sw)


def im2col(x: np.ndarray, g: Geometry) -> np.ndarray:
    """(N, C, H, W) -> cols (N, C*kh*kw, ho*pitch), rows ordered (c, i, j) like weight.reshape(O, -1)."""
    length = g.ho * g.pitch
    cols = np.empty((g.n, g.c, g.kh, g.kw, length), dtype=x.dtype)
    if g.wide:  # offset (i, j) is the run flat[..., i*wp + j : i*wp + j + length]: one strided view
        flat = _padded_flat(x, g)
        sn, sc, s1 = flat.strides
        cols[...] = as_strided(flat, cols.shape, (sn, sc, g.wp * s1, s1, s1), writeable=False)
    else:
        xp = x if g.ph == g.pw == 0 else np.pad(x, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)))
        for i in range(g.kh):
            for j in range(g.kw):
                rows, columns = _slices(g, i, j)
                cols[:, :, i, j] = xp[:, :, rows, columns].reshape(g.n, g.c, length)
    return cols.reshape(g.n, g.c * g.kh * g.kw, length)


def unfold_rows(x: np.ndarray, g: Geometry) -> np.ndarray:
    """Wide grid only: (N, C, H, W) -> (N, C*kw, (ho + kh - 1) * pitch), rows ordered (c, j), the windows
    unfolded along the kernel's width only. Kernel row i's columns are those of im2col for offsets (i, *),
    starting i * pitch later: rows[..., i * pitch:i * pitch + ho * pitch]. kh times fewer copies than im2col."""
    flat = _padded_flat(x, g)
    sn, sc, s1 = flat.strides
    length = (g.ho + g.kh - 1) * g.pitch
    return as_strided(flat, (g.n, g.c, g.kw, length), (sn, sc, s1, s1)).reshape(g.n, g.c * g.kw, length)


def row_window(rows: np.ndarray, g: Geometry, i: int) -> np.ndarray:
    """Kernel row i's (N, C*kw, ho*pitch) window of unfold_rows' output, a view."""
    return rows[:, :, i * g.pitch:(i + g.ho) * g.pitch]


def col2im(dcols: np.ndarray, g: Geometry) -> np.ndarray:
    """The adjoint of im2col: (N, C*kh*kw, ho*pitch) -> dx (N, C, H, W), summing overlapping windows."""
    length = g.ho * g.pitch
    dcols = dcols.reshape(g.n, g.c, g.kh, g.kw, length)
    if g.wide:
        flat = np.zeros((g.n, g.c, g.hp * g.wp + g.kw - 1), dtype=dcols.dtype)
        for i in range(g.kh):
            for j in range(g.kw):
                start = i * g.wp + j
                flat[:, :, start:start + length] += dcols[:, :, i, j]
        dxp = flat[:, :, :g.hp * g.wp].reshape(g.n, g.c, g.hp, g.wp)
    else:
        dxp = np.zeros((g.n, g.c, g.hp, g.wp), dtype=dcols.dtype)
        for i in range(g.kh):
            for j in range(g.kw):
                rows, columns = _slices(g, i, j)
                dxp[:, :, rows, columns] += dcols[:, :, i, j].reshape(g.n, g.c, g.ho, g.wo)
    return np.ascontiguousarray(dxp[:, :, g.ph:g.ph + g.h, g.pw:g.pw + g.w])


def input_grad(dy: np.ndarray, w: np.ndarray, g: Geometry) -> np.ndarray:
    """A convolution's dx from dy (N, O, ho, wo) and its weight (O, C, kh, kw): col2im(w2.T @ widen(dy)).

    On the wide grid it is cheaper to unfold dy along the kernel's width only: kw shifted copies of each
    dy row, one batched matmul giving every kernel row's share of dx at once, then kh shifted adds (not
    kh * kw). Conv2's dx in LeNet: 0.67 instead of 1.07 ms at batch 64, float32, 1 thread. The sums are
    torch's up to rounding (each dx element adds the same products, in another order).
    """
    o = w.shape[0]
    if not g.wide:
        return col2im(np.matmul(w.reshape(o, -1).T, widen(dy, g)), g)
    length, run = g.ho * g.pitch, g.ho * g.pitch + g.kw - 1  # run: one kernel row's share, per (n, c)
    padded = np.zeros((g.n, o, length + 2 * (g.kw - 1)), dtype=dy.dtype)  # dy_wide with kw - 1 zeros each side
    padded[:, :, g.kw - 1:g.kw - 1 + length].reshape(g.n, o, g.ho, g.pitch)[..., :g.wo] = dy
    sn, so, s1 = padded.strides
    # rows (o, j') with j' = kw - 1 - j: row (o, j')[u] = dy_wide[o, u - j], zero outside
    shifted = as_strided(padded, (g.n, o, g.kw, run), (sn, so, s1, s1)).reshape(g.n, o * g.kw, run)
    w_rows = w[:, :, :, ::-1].transpose(1, 2, 0, 3).reshape(g.c * g.kh, o * g.kw)  # rows (c, i), columns (o, j')
    shares = np.matmul(w_rows, shifted).reshape(g.n, g.c, g.kh, run)  # kernel row i's share of dx, from i * wp on
    flat = np.zeros((g.n, g.c, g.hp * g.wp + g.kw - 1), dtype=dy.dtype)
    for i in range(g.kh):
        flat[:, :, i * g.wp:i * g.wp + run] += shares[:, :, i]
    dxp = flat[:, :, :g.hp * g.wp].reshape(g.n, g.c, g.hp, g.wp)
    return np.ascontiguousarray(dxp[:, :, g.ph:g.ph + g.h, g.pw:g.pw + g.w])


def narrow(y_wide: np.ndarray, g: Geometry) -> np.ndarray:
    """(N, O, ho*pitch) -> (N, O, ho, wo), dropping the wide grid's garbage columns."""
    y = y_wide.reshape(y_wide.shape[0], y_wide.shape[1], g.ho, g.pitch)
    return y if g.pitch == g.wo else np.ascontiguousarray(y[..., :g.wo])


def widen(dy: np.ndarray, g: Geometry) -> np.ndarray:
    """(N, O, ho, wo) -> (N, O, ho*pitch) with zeros in the garbage columns, so they contribute nothing."""
    n, o = dy.shape[:2]
    if g.pitch == g.wo:
        return dy.reshape(n, o, g.ho * g.wo)
    wide = np.zeros((n, o, g.ho, g.pitch), dtype=dy.dtype)
    wide[..., :g.wo] = dy
    return wide.reshape(n, o, g.ho * g.pitch)
