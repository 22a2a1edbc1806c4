"""Hypotheses for a conv written as im2col + matmul: the patch matrix or the product reshaped without the transpose
that puts the output positions where the reshape expects them. Registered in diagnosis.py's HYPOTHESES.
"""

from __future__ import annotations

import numpy as np

from lenet_parity.harness.diagnosis_evidence import Diagnosis, Evidence
from lenet_parity.harness.diagnosis_windows import geometry


def _patches(ev: Evidence) -> np.ndarray:
    """Every window of the padded input, (N, C, kh, kw, H_out, W_out): the array an im2col loop over the kernel
    offsets builds."""
    (kh, kw), (sh, sw), (ph, pw) = geometry(ev)
    x = np.pad(np.asarray(ev.x, dtype=np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    return np.stack([np.stack([x[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] for j in range(kw)], 2)
                     for i in range(kh)], 2)


def im2col_order(ev: Evidence) -> Diagnosis | None:
    """im2col's matrix reshaped without the transpose it needs: the patches (N, C, kh, kw, H_out, W_out) reshaped
    straight to rows (N*H_out*W_out, C*kh*kw), or the product (N*H_out*W_out, F) straight to (N, F, H_out, W_out)."""
    if ev.cls != "Conv2d" or ev.tensor != "output" or ev.x is None or "weight" not in ev.params or ev.got.ndim != 4:
        return None
    w = np.asarray(ev.params["weight"], dtype=np.float64)
    b = np.asarray(ev.params.get("bias", np.zeros(w.shape[0])), dtype=np.float64).reshape(-1)
    patches = _patches(ev)
    n, c, kh, kw, ho, wo = patches.shape
    rows_by_layout = {"right": patches.transpose(0, 4, 5, 1, 2, 3), "positions last": patches,
                      "batch inside": patches.transpose(1, 2, 3, 0, 4, 5)}
    for layout, arranged in rows_by_layout.items():
        product = arranged.reshape(n * ho * wo, c * kh * kw) @ w.reshape(w.shape[0], -1).T + b  # (N*H_out*W_out, F)
        if layout != "right" and ev.matches(product.reshape(n, ho, wo, -1).transpose(0, 3, 1, 2)):
            return Diagnosis("im2col-order", f"im2col's patches were reshaped to rows without moving the output "
                                             f"positions first ({layout}: the reshape mixes patch entries with "
                                             f"positions); transpose to (N, H_out, W_out, C, kh, kw), then reshape")
        if layout == "right" and ev.matches(product.reshape(n, -1, ho, wo)):
            return Diagnosis("im2col-order", "the product (N*H_out*W_out, F) was reshaped straight to (N, F, H_out, "
                                             "W_out); reshape it to (N, H_out, W_out, F), then transpose(0, 3, 1, 2)")
    return None
