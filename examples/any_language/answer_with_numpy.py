"""Answer every case of an export with plain NumPy: what a port to any language does, in one file.

It imports numpy and nothing of lenet-parity: it reads DIR/manifest.json, each case's inputs from
DIR/cases/<id>/*.npy, and writes each of the case's outputs to DIR/answers/<id>/<name>.npy, in the case's
dtype. Every layer type of LeNet, its variants and the 1998 LeNet-5 is here, with torch's semantics (cross-correlation,
floor-mode pooling with the gradient to the first maximum, NLLLoss's mean, batchnorm in training mode).

    lenet-parity cases export all --out /tmp/cases --scope torch
    python examples/any_language/answer_with_numpy.py /tmp/cases
    lenet-parity cases check /tmp/cases
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def conv2d(x, w, b, stride, padding):
    """torch's Conv2d forward (a cross-correlation); returns y and what backward needs."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    o, _, kh, kw = w.shape
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    y = np.zeros((x.shape[0], o, ho, wo))
    for p in range(kh):
        for q in range(kw):
            window = xp[:, :, p:p + sh * ho:sh, q:q + sw * wo:sw]
            y += np.einsum("nchw,oc->nohw", window, w[:, :, p, q])
    if b is not None:
        y += b[None, :, None, None]
    return y, (xp, (sh, sw), (ph, pw), (ho, wo))


def conv2d_backward(dy, w, saved):
    xp, (sh, sw), (ph, pw), (ho, wo) = saved
    dxp, gw = np.zeros_like(xp), np.zeros_like(w)
    for p in range(w.shape[2]):
        for q in range(w.shape[3]):
            window = (slice(None), slice(None), slice(p, p + sh * ho, sh), slice(q, q + sw * wo, sw))
            dxp[window] += np.einsum("nohw,oc->nchw", dy, w[:, :, p, q])
            gw[:, :, p, q] = np.einsum("nohw,nchw->oc", dy, xp[window])
    dx = dxp[:, :, ph:dxp.shape[2] - ph, pw:dxp.shape[3] - pw]
    return dx, gw, dy.sum(axis=(0, 2, 3))


def maxpool2d(x, kernel_size, stride=None, padding=0):
    (kh, kw), (sh, sw) = pair(kernel_size), pair(stride if stride is not None else kernel_size)
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    windows = np.stack([x[:, :, p:p + sh * ho:sh, q:q + sw * wo:sw] for p in range(kh) for q in range(kw)], -1)
    first = windows.argmax(-1)  # the first maximum in row-major order, as torch picks it
    return np.take_along_axis(windows, first[..., None], -1)[..., 0], (first, (kh, kw), (sh, sw), x.shape)


def maxpool2d_backward(dy, saved):
    first, (kh, kw), (sh, sw), shape = saved
    dx = np.zeros(shape)
    ho, wo = dy.shape[2:]
    for k in range(kh * kw):
        p, q = divmod(k, kw)
        dx[:, :, p:p + sh * ho:sh, q:q + sw * wo:sw] += np.where(first == k, dy, 0.0)  # overlapping windows add
    return dx


def avgpool2d(x, kernel_size, stride=None):
    """torch's AvgPool2d (floor mode, no padding): each window's mean; the gradient spread evenly over it."""
    (kh, kw), (sh, sw) = pair(kernel_size), pair(stride if stride is not None else kernel_size)
    ho, wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    windows = [(slice(None), slice(None), slice(p, p + sh * ho, sh), slice(q, q + sw * wo, sw))
               for p in range(kh) for q in range(kw)]
    return sum(x[w] for w in windows) / (kh * kw), windows


def avgpool2d_backward(dy, x, windows):
    dx = np.zeros_like(x)
    for w in windows:
        dx[w] += dy / len(windows)  # overlapping windows add
    return dx


def softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))  # the max shift: no overflow for logits of 1e4
    return e / e.sum(axis=dim, keepdims=True)


def batchnorm(x, weight, bias, running_mean, running_var, eps=1e-5, momentum=0.1):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = [1, -1] + [1] * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    count = x.size // x.shape[1]
    xhat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var * count / (count - 1)  # the unbiased variance
    return xhat * weight.reshape(shape) + bias.reshape(shape), (xhat, var, eps, axes, shape), new_mean, new_var


def batchnorm_backward(dy, weight, saved):
    xhat, var, eps, axes, shape = saved
    gw, gb = (dy * xhat).sum(axis=axes), dy.sum(axis=axes)
    dxhat = dy * weight.reshape(shape)
    dx = (dxhat - dxhat.mean(axis=axes, keepdims=True) - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)) \
        / np.sqrt(var.reshape(shape) + eps)
    return dx, gw, gb


def answer(case: dict, a: dict) -> dict:
    """The case's outputs from its inputs ``a`` (name -> float64 array; target as integers)."""
    kw, layer, x = case["kwargs"], case["layer"], a["x"]
    dy = a.get("dy")
    if layer == "Conv2d":
        y, saved = conv2d(x, a["weight"], a.get("bias"), kw.get("stride", 1), kw.get("padding", 0))
        dx, gw, gb = conv2d_backward(dy, a["weight"], saved)
        return {"y": y, "dx": dx, "grad_weight": gw, "grad_bias": gb}
    if layer == "Residual":  # x + conv(x), the conv padded to keep the shape
        k = kw.get("kernel_size", 3)
        y, saved = conv2d(x, a["weight"], a.get("bias"), 1, k // 2)
        dx, gw, gb = conv2d_backward(dy, a["weight"], saved)
        return {"y": x + y, "dx": dy + dx, "grad_weight": gw, "grad_bias": gb}
    if layer == "MaxPool2d":
        y, saved = maxpool2d(x, kw["kernel_size"], kw.get("stride"))
        return {"y": y, "dx": maxpool2d_backward(dy, saved)}
    if layer == "ReLU":
        return {"y": np.maximum(x, 0), "dx": dy * (x > 0)}
    if layer == "Linear":
        w, b = a["weight"], a.get("bias")
        y = x @ w.T + (0 if b is None else b)
        return {"y": y, "dx": dy @ w, "grad_weight": dy.T @ x, "grad_bias": dy.sum(axis=0)}
    if layer == "Flatten":
        start, end = kw.get("start_dim", 1), kw.get("end_dim", -1) % x.ndim
        shape = x.shape[:start] + (-1,) + x.shape[end + 1:]
        return {"y": x.reshape(shape), "dx": dy.reshape(x.shape)}
    if layer == "LogSoftmax":
        dim = kw.get("dim", 1)
        shifted = x - x.max(axis=dim, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        return {"y": y, "dx": dy - np.exp(y) * dy.sum(axis=dim, keepdims=True)}
    if layer == "Tanh":
        y = np.tanh(x)
        return {"y": y, "dx": dy * (1 - y * y)}
    if layer == "Sigmoid":
        y = np.exp(-np.logaddexp(0, -x))  # 1 / (1 + exp(-x)) without overflow for x of -1000
        return {"y": y, "dx": dy * y * (1 - y)}
    if layer == "AvgPool2d":
        y, windows = avgpool2d(x, kw["kernel_size"], kw.get("stride"))
        return {"y": y, "dx": avgpool2d_backward(dy, x, windows)}
    if layer == "Softmax":
        dim = kw.get("dim", 1)
        y = softmax(x, dim)
        return {"y": y, "dx": y * (dy - (dy * y).sum(axis=dim, keepdims=True))}
    if layer == "CrossEntropyLoss":  # on logits, reduction="mean"
        t, n = a["target"], x.shape[0]
        shifted = x - x.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log-softmax, never log(0)
        dx = np.exp(logp)
        dx[np.arange(n), t] -= 1
        return {"y": np.asarray(-logp[np.arange(n), t].mean()), "dx": dx / n}
    if layer == "NLLLoss":  # reduction="mean"
        t, n = a["target"], x.shape[0]
        dx = np.zeros_like(x)
        dx[np.arange(n), t] = -1.0 / n
        return {"y": np.asarray(-x[np.arange(n), t].mean()), "dx": dx}
    if layer in ("BatchNorm1d", "BatchNorm2d"):
        y, saved, mean, var = batchnorm(x, a["weight"], a["bias"], a["running_mean"], a["running_var"],
                                        kw.get("eps", 1e-5), kw.get("momentum", 0.1))
        dx, gw, gb = batchnorm_backward(dy, a["weight"], saved)
        return {"y": y, "running_mean": mean, "running_var": var, "dx": dx, "grad_weight": gw, "grad_bias": gb}
    if layer == "Dropout":  # the mask is given, already scaled by 1/(1-p)
        return {"y": x * a["mask"], "dx": dy * a["mask"]}
    raise NotImplementedError(layer)


def main(folder: Path) -> int:
    manifest = json.loads((folder / "manifest.json").read_text())
    for case in manifest["cases"]:
        inputs = {p.stem: np.load(p) for p in (folder / case["dir"]).glob("*.npy")}
        inputs = {k: v if k == "target" else v.astype(np.float64) for k, v in inputs.items()}
        out = folder / "answers" / case["id"]
        out.mkdir(parents=True, exist_ok=True)
        results = answer(case, inputs)
        for name in case["outputs"]:
            np.save(out / f"{name}.npy", np.asarray(results[name], dtype=case["dtype"]))
    print(f"answered {len(manifest['cases'])} cases in {folder / 'answers'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
