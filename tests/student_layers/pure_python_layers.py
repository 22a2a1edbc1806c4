"""Homework: LeNet-5 layers in pure Python (nested lists of floats, no numpy).

Images are nested lists indexed [n][c][h][w], vectors [n][f].
Every layer has forward(x) -> y and backward(dy) -> dx; layers with
weights read them from self.params at forward time and write
self.grads["weight"] / self.grads["bias"] in backward.
Only what LeNet needs: square int kernels, simple nested loops.
"""
import math
import random


def zeros(shape):
    """Nested list of 0.0 with the given shape."""
    if len(shape) == 1:
        return [0.0] * shape[0]
    return [zeros(shape[1:]) for _ in range(shape[0])]


def shape_of(a):
    shape = []
    while isinstance(a, (list, tuple)):
        shape.append(len(a))
        a = a[0] if len(a) > 0 else None
    return shape


def rand_uniform(shape, bound):
    if len(shape) == 1:
        return [random.uniform(-bound, bound) for _ in range(shape[0])]
    return [rand_uniform(shape[1:], bound) for _ in range(shape[0])]


def flatten_list(a):
    if not isinstance(a, (list, tuple)):
        return [float(a)]
    out = []
    for item in a:
        out.extend(flatten_list(item))
    return out


def reshape_list(flat, shape):
    """Inverse of flatten_list (row-major)."""
    if len(shape) == 1:
        return list(flat[:shape[0]])
    step = len(flat) // shape[0]
    return [reshape_list(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _check_int(value, name):
    if not isinstance(value, int):
        raise NotImplementedError(name + " must be a plain int in this homework")
    return value


class Conv2d:
    array_kind = "list"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        if not bias:
            raise NotImplementedError("conv without bias is not needed for LeNet")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.k = _check_int(kernel_size, "kernel_size")
        self.stride = _check_int(stride, "stride")
        self.padding = _check_int(padding, "padding")
        bound = 1.0 / math.sqrt(in_channels * self.k * self.k)
        self.params = {
            "weight": rand_uniform([out_channels, in_channels, self.k, self.k], bound),
            "bias": rand_uniform([out_channels], bound),
        }
        self.grads = {}

    def _pad(self, x):
        p = self.padding
        if p == 0:
            return x
        N, C, H, W = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
        xp = zeros([N, C, H + 2 * p, W + 2 * p])
        for n in range(N):
            for c in range(C):
                for h in range(H):
                    for w in range(W):
                        xp[n][c][h + p][w + p] = x[n][c][h][w]
        return xp

    def forward(self, x):
        Wt = self.params["weight"]
        b = self.params["bias"]
        k, s, p = self.k, self.stride, self.padding
        N, C, H, W = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
        O = len(Wt)
        xp = self._pad(x)
        Ho = (H + 2 * p - k) // s + 1
        Wo = (W + 2 * p - k) // s + 1

        out = zeros([N, O, Ho, Wo])
        for n in range(N):
            for o in range(O):
                for oh in range(Ho):
                    for ow in range(Wo):
                        total = b[o]
                        for c in range(C):
                            for i in range(k):
                                row = xp[n][c][oh * s + i]
                                wrow = Wt[o][c][i]
                                for j in range(k):
                                    total += row[ow * s + j] * wrow[j]
                        out[n][o][oh][ow] = float(total)
        self.cache = (xp, (N, C, H, W), Ho, Wo)
        return out

    def backward(self, dy):
        Wt = self.params["weight"]
        k, s, p = self.k, self.stride, self.padding
        xp, (N, C, H, W), Ho, Wo = self.cache
        O = len(Wt)

        dW = zeros([O, C, k, k])
        db = zeros([O])
        dxp = zeros([N, C, H + 2 * p, W + 2 * p])
        for n in range(N):
            for o in range(O):
                for oh in range(Ho):
                    for ow in range(Wo):
                        g = dy[n][o][oh][ow]
                        db[o] += g
                        for c in range(C):
                            for i in range(k):
                                h = oh * s + i
                                for j in range(k):
                                    w = ow * s + j
                                    dW[o][c][i][j] += g * xp[n][c][h][w]
                                    dxp[n][c][h][w] += g * Wt[o][c][i][j]

        # remove the padding again
        dx = [[[row[p:p + W] for row in dxp[n][c][p:p + H]] for c in range(C)] for n in range(N)]
        self.grads["weight"] = dW
        self.grads["bias"] = db
        return dx


class MaxPool2d:
    array_kind = "list"

    def __init__(self, kernel_size, stride=None, padding=0):
        if padding != 0:
            raise NotImplementedError("padding in max pool is not needed for LeNet")
        self.k = _check_int(kernel_size, "kernel_size")
        self.stride = self.k if stride is None else _check_int(stride, "stride")
        self.params = {}
        self.grads = {}

    def forward(self, x):
        k, s = self.k, self.stride
        N, C, H, W = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
        Ho = (H - k) // s + 1
        Wo = (W - k) // s + 1
        out = zeros([N, C, Ho, Wo])
        argmax = [[[[None] * Wo for _ in range(Ho)] for _ in range(C)] for _ in range(N)]
        for n in range(N):
            for c in range(C):
                for oh in range(Ho):
                    for ow in range(Wo):
                        best = None
                        where = None
                        for i in range(k):
                            for j in range(k):
                                v = x[n][c][oh * s + i][ow * s + j]
                                # strict ">" keeps the FIRST maximum
                                if best is None or v > best:
                                    best = v
                                    where = (oh * s + i, ow * s + j)
                        out[n][c][oh][ow] = float(best)
                        argmax[n][c][oh][ow] = where
        self.cache = ((N, C, H, W), argmax, Ho, Wo)
        return out

    def backward(self, dy):
        (N, C, H, W), argmax, Ho, Wo = self.cache
        dx = zeros([N, C, H, W])
        for n in range(N):
            for c in range(C):
                for oh in range(Ho):
                    for ow in range(Wo):
                        h, w = argmax[n][c][oh][ow]
                        dx[n][c][h][w] += dy[n][c][oh][ow]
        return dx


def _map(f, a):
    """Apply f elementwise to a nested list."""
    if isinstance(a, (list, tuple)):
        return [_map(f, item) for item in a]
    return f(a)


def _map2(f, a, b):
    if isinstance(a, (list, tuple)):
        return [_map2(f, ai, bi) for ai, bi in zip(a, b)]
    return f(a, b)


class ReLU:
    array_kind = "list"

    def __init__(self, inplace=False):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return _map(lambda v: float(v) if v > 0 else 0.0, x)

    def backward(self, dy):
        # gradient at exactly 0 is 0
        return _map2(lambda v, g: float(g) if v > 0 else 0.0, self.x, dy)


class Linear:
    array_kind = "list"

    def __init__(self, in_features, out_features, bias=True):
        if not bias:
            raise NotImplementedError("linear without bias is not needed for LeNet")
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in_features)
        self.params = {
            "weight": rand_uniform([out_features, in_features], bound),
            "bias": rand_uniform([out_features], bound),
        }
        self.grads = {}

    def forward(self, x):
        Wt = self.params["weight"]
        b = self.params["bias"]
        self.x = x
        out = []
        for xn in x:
            row = []
            for o in range(len(Wt)):
                total = b[o]
                wo = Wt[o]
                for i in range(len(xn)):
                    total += wo[i] * xn[i]
                row.append(float(total))
            out.append(row)
        return out

    def backward(self, dy):
        Wt = self.params["weight"]
        x = self.x
        O, I = len(Wt), len(Wt[0])
        dW = zeros([O, I])
        db = zeros([O])
        dx = zeros([len(x), I])
        for n in range(len(x)):
            for o in range(O):
                g = dy[n][o]
                db[o] += g
                for i in range(I):
                    dW[o][i] += g * x[n][i]
                    dx[n][i] += g * Wt[o][i]
        self.grads["weight"] = dW
        self.grads["bias"] = db
        return dx


class Flatten:
    array_kind = "list"

    def __init__(self, start_dim=1, end_dim=-1):
        if start_dim != 1 or end_dim != -1:
            raise NotImplementedError("only Flatten() with the default dims")
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x_shape = shape_of(x)
        return [flatten_list(xn) for xn in x]

    def backward(self, dy):
        inner = self.x_shape[1:]
        if len(inner) == 1:
            return [list(map(float, row)) for row in dy]
        return [reshape_list(row, inner) for row in dy]


class LogSoftmax:
    array_kind = "list"

    def __init__(self, dim=1):
        if dim not in (1, -1):
            raise NotImplementedError("only dim=1 on (N, C) input")
        self.dim = dim
        self.params = {}
        self.grads = {}

    def forward(self, x):
        if len(shape_of(x)) != 2:
            raise NotImplementedError("only (N, C) input")
        out = []
        for row in x:
            m = max(row)  # subtract the max so exp cannot overflow
            lse = math.log(sum(math.exp(v - m) for v in row))
            out.append([float(v - m - lse) for v in row])
        self.y = out
        return out

    def backward(self, dy):
        dx = []
        for yrow, grow in zip(self.y, dy):
            s = sum(grow)
            dx.append([float(g - math.exp(yv) * s) for yv, g in zip(yrow, grow)])
        return dx


class NLLLoss:
    array_kind = "list"

    def __init__(self, reduction="mean"):
        if reduction != "mean":
            raise NotImplementedError("only reduction='mean'")
        self.params = {}
        self.grads = {}

    def forward(self, logp, target):
        target = [int(t) for t in target]
        N = len(logp)
        self.target = target
        self.shape = (N, len(logp[0]))
        total = 0.0
        for n in range(N):
            total -= logp[n][target[n]]
        return float(total / N)

    def backward(self):
        N, C = self.shape
        d = zeros([N, C])
        for n in range(N):
            d[n][self.target[n]] = -1.0 / N
        return d
