"""CORRECT CS231n-style conv functions taking w as (F, kh, kw, C)."""
import numpy as np
from lenet_math import conv_forward as _f, conv_backward as _b


def conv_forward_naive(x, w, b, conv_param):
    out = _f(x, w.transpose(0, 3, 1, 2), b, conv_param["stride"], conv_param["pad"])
    return out, (x, w, conv_param)


def conv_backward_naive(dout, cache):
    x, w, p = cache
    dx, dw, db = _b(dout, x, w.transpose(0, 3, 1, 2), p["stride"], p["pad"])
    return dx, dw.transpose(0, 2, 3, 1), db
