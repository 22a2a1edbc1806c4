"""Hypotheses for a wrong shape: the expression that made the size (an output-size formula, an empty slice, a reshape
naming W before H), or at least which kind of shape error it is. Registered in diagnosis.py's HYPOTHESES.
"""

from __future__ import annotations

from lenet_parity.harness.diagnosis_evidence import Diagnosis, Evidence
from lenet_parity.harness.diagnosis_windows import WINDOWED, geometry

_OUTPUT_SIZES = [  # (how the size was computed, what is wrong with it, the size along one axis)
    ("(H + 2*padding - kernel) + 1", "the division by the stride is missing", lambda h, k, s, p: h + 2 * p - k + 1),
    ("(H - kernel) // stride + 1", "the padding term 2*padding is missing", lambda h, k, s, p: (h - k) // s + 1),
    ("(H + padding - kernel) // stride + 1", "the padding is counted on one side only",
     lambda h, k, s, p: (h + p - k) // s + 1),
    ("(H + 2*padding - kernel) // stride", "the + 1 is missing", lambda h, k, s, p: (h + 2 * p - k) // s),
    ("ceil((H + 2*padding - kernel) / stride) + 1", "ceil where torch floors",
     lambda h, k, s, p: -(-(h + 2 * p - k) // s) + 1),
    ("H // stride", "the kernel and padding are left out", lambda h, k, s, p: h // s),
    ("H // kernel", "the stride is taken to be the kernel", lambda h, k, s, p: h // k),
    ("(H + 2*padding - 1) // stride + 1", "the kernel is left out: windows running past the border are kept, "
     "partial", lambda h, k, s, p: (h + 2 * p - 1) // s + 1),
]


def size_expression(ev: Evidence) -> Diagnosis | None:
    """A wrong size from a wrong size expression: the output size without the stride division, the padding term
    or the + 1, or with ceil for floor; dx sized from the window grid; dx_pad[:, :, p:-p] with p = 0 (empty)."""
    if ev.cls not in WINDOWED or ev.x is None or ev.got.ndim != 4 or ev.got.shape == ev.expected.shape:
        return None
    if ev.got.shape[:2] != ev.expected.shape[:2]:
        return None
    got, (h, w) = ev.got.shape[2:], ev.x.shape[2:]
    k, s, p = geometry(ev)
    if ev.tensor == "output":
        named = [f"{formula} ({wrong})" for formula, wrong, size in _OUTPUT_SIZES
                 if (size(h, k[0], s[0], p[0]), size(w, k[1], s[1], p[1])) == got]
        if named:
            return Diagnosis("shape", f"the output is {got[0]}x{got[1]}, torch's {ev.expected.shape[2]}x"
                                      f"{ev.expected.shape[3]}: that is {' or '.join(named)}; torch's size is "
                                      f"(H + 2*padding - kernel) // stride + 1")
    if ev.tensor != "grad_input":
        return None
    if any(size == 0 and pad == 0 for size, pad in zip(got, p)):
        return Diagnosis("shape", "grad_input has an empty axis: slicing dx_pad[:, :, p:-p, p:-p] with padding 0 "
                                  "gives an empty array (-0 is 0); use dx_pad[:, :, p:p+H, p:p+W]")
    grid = tuple((size + 2 * pad - kernel) // stride * stride + kernel - 2 * pad
                 for size, kernel, stride, pad in zip((h, w), k, s, p))  # (H_out - 1)*stride + kernel - 2*padding
    if grid == got:
        return Diagnosis("shape", f"grad_input is {got[0]}x{got[1]}, the input was {h}x{w}: dx was sized from the "
                                  f"window grid, (H_out - 1)*stride + kernel - 2*padding; rows and columns no window "
                                  f"reaches still belong to dx (as zeros): allocate it like x")
    return None


def hw_swapped_shape(ev: Evidence) -> Diagnosis | None:
    """Height and width swapped in a size: a reshape to (.., W, H), or a transpose of the last two axes; right on
    square inputs only."""
    want = ev.expected.shape
    if ev.got.ndim != 4 or want[2] == want[3] or ev.got.shape != (*want[:2], want[3], want[2]):
        return None
    if ev.matches(ev.expected.swapaxes(-1, -2)):
        return Diagnosis("hw-swap", f"{ev.tensor} is transposed in H and W ({want[3]}x{want[2]}, torch's "
                                    f"{want[2]}x{want[3]}): an index [.., x, y] for [.., y, x], or a transpose of the "
                                    f"last two axes; right on square inputs only")
    if ev.matches(ev.expected.reshape(ev.got.shape)):
        return Diagnosis("hw-swap", f"{ev.tensor} was reshaped to (.., W, H) = ({want[3]}, {want[2]}) where torch's "
                                    f"is (.., H, W) = ({want[2]}, {want[3]}): the reshape names W before H; right on "
                                    f"square inputs only")
    return None


def wrong_shape(ev: Evidence) -> Diagnosis | None:
    """A wrong output size: the classic off-by-one in (H + 2p - k) // s + 1, a transposed weight gradient, or a
    missing reshape."""
    if ev.got.shape == ev.expected.shape:
        return None
    got, want = ev.got.shape, ev.expected.shape
    if ev.expected.ndim == 2 and got == want[::-1] and ev.matches(ev.expected.T):
        return Diagnosis("transpose", f"{ev.tensor} is transposed: torch's layout is {want}; for a Linear, "
                                      f"dW = dy.T @ x (out, in), not x.T @ dy")
    if len(got) == len(want) == 4 and got[:2] == want[:2] and ev.tensor == "output":
        off = (got[2] - want[2], got[3] - want[3])
        if set(off) <= {-1, 0, 1} and off != (0, 0):
            return Diagnosis("shape", f"the output is {got[2]}x{got[3]}, torch's {want[2]}x{want[3]}: off by one in "
                                      f"the output-size formula, which is (H + 2*padding - kernel) // stride + 1")
    if ev.tensor == "grad_input" and len(got) == len(want) == 4 and got[:2] == want[:2] and ev.kwargs.get("padding"):
        return Diagnosis("shape", f"grad_input is {got[2]}x{got[3]}, the input was {want[2]}x{want[3]}: the padding "
                                  f"was not cut off dx again")
    if ev.got.size == ev.expected.size:
        return Diagnosis("shape", f"shape {got} instead of {want}, the same number of values: a reshape or transpose "
                                  f"is missing or wrong")
    return Diagnosis("shape", f"shape {got} instead of {want}")
