"""Small helpers for nested Python lists, the pure-Python backend's arrays (``array_kind = "list"``).

A tensor of shape (N, C, H, W) is a list of N lists of C lists of H rows of W floats; the innermost
lists are called rows.
"""

from __future__ import annotations

import math
import random
from operator import mul
from typing import Any, Callable


def dot(a, b) -> float:
    """sum_i a[i] * b[i]: the dot product of two equally long sequences of floats.

    ``map(mul, a, b)`` yields a[0]*b[0], a[1]*b[1], ... and sum() adds them up. The loop
    ``for u, v in zip(a, b): total += u * v`` says the same but takes ~1.5x as long, and most of LeNet's
    time is spent here."""
    return sum(map(mul, a, b))


def transpose(rows) -> list:
    """t[j][i] = rows[i][j]: the columns of a list of equally long rows (``zip(*rows)`` pairs them up)."""
    return [list(column) for column in zip(*rows)]


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of a rectangular nested list; ValueError if it is ragged or has an empty dimension."""
    shape: list[int] = []
    level = [x]  # every list at the current depth
    while isinstance(level[0], (list, tuple)):
        n = len(level[0])
        if n == 0:
            raise ValueError(f"nested list has an empty dimension at depth {len(shape)}")
        for item in level:
            if not isinstance(item, (list, tuple)) or len(item) != n:
                raise ValueError(f"nested list is ragged at depth {len(shape)}: "
                                 f"expected {len(level)} lists of length {n}")
        shape.append(n)
        if not isinstance(level[0][0], (list, tuple)):
            break  # level holds the rows, whose items are the numbers: nothing deeper to check
        level = [child for item in level for child in item]
    return tuple(shape)


def check_shape(x: Any, ndims: tuple[int, ...], who: str, layout: str, name: str = "x") -> tuple[int, ...]:
    """shape_of(x), with a clear ValueError unless x is a nested list with one of the allowed ndims."""
    if not isinstance(x, list):
        raise ValueError(f"{who}: expected {name} as a nested list {layout}, got {type(x).__name__}")
    shape = shape_of(x)
    if len(shape) not in ndims:
        raise ValueError(f"{who}: expected {name} of shape {layout}, got a nested list of shape {shape}")
    return shape


def check_same_shape(dy: Any, shape: tuple[int, ...], who: str, name: str = "dy") -> None:
    """ValueError unless dy has exactly the given shape (the forward output's, usually)."""
    actual = shape_of(dy) if isinstance(dy, list) else type(dy).__name__
    if actual != tuple(shape):
        raise ValueError(f"{who}: expected {name} of shape {tuple(shape)}, got {actual}")


def zeros(shape: tuple[int, ...]) -> list:
    """A nested list of 0.0 of the given shape (every row a separate list)."""
    if len(shape) == 1:
        return [0.0] * shape[0]
    return [zeros(shape[1:]) for _ in range(shape[0])]


def uniform(shape: tuple[int, ...], bound: float, rng: random.Random | None = None) -> list:
    """A nested list of draws from U(-bound, bound) in row-major order (rng: Python's global generator)."""
    draw = (rng or random).uniform  # the module's functions use the generator that random.seed() seeds
    flat = [draw(-bound, bound) for _ in range(math.prod(shape))]
    return reshape(flat, shape)


def flatten(x: Any) -> list:
    """All numbers of a nested list in row-major order (a scalar becomes a one-element list)."""
    if not isinstance(x, (list, tuple)):
        return [x]
    if not isinstance(x[0], (list, tuple)):
        return list(x)  # a row: a copy, so that the caller's list is never shared
    return [v for item in x for v in flatten(item)]


def reshape(flat: list, shape: tuple[int, ...]) -> Any:
    """Inverse of flatten: cut a flat list into nested lists of the given shape (() gives the scalar)."""
    if len(flat) != math.prod(shape):
        raise ValueError(f"cannot reshape {len(flat)} values into shape {tuple(shape)}")
    if not shape:
        return flat[0]
    out = [flat[i:i + shape[-1]] for i in range(0, len(flat), shape[-1])]
    for size in reversed(shape[1:-1]):
        out = [out[i:i + size] for i in range(0, len(out), size)]
    return out if len(shape) > 1 else list(flat)


def map_rows(f: Callable[..., list], x: Any, *others: Any) -> Any:
    """Apply f to each innermost row of x (and the matching rows of others); keeps the nesting."""
    if isinstance(x[0], list):
        return [map_rows(f, *parts) for parts in zip(x, *others)]
    return f(x, *others)


def split_channels(x: list) -> list[list]:
    """(N, C, ...) -> C flat lists: each channel's values over the whole batch, in (n, ...) order."""
    if not isinstance(x[0][0], list):  # (N, C): the channels are the columns
        return transpose(x)
    return [flatten([img[c] for img in x]) for c in range(len(x[0]))]


def join_channels(chans: list[list], shape: tuple[int, ...]) -> list:
    """Inverse of split_channels for an (N, C, ...) shape."""
    n_batch, inner = shape[0], tuple(shape[2:])
    if not inner:
        return transpose(chans)
    size = math.prod(inner)
    return [[reshape(ch[n * size:(n + 1) * size], inner) for ch in chans] for n in range(n_batch)]


def checked_param(layer: Any, key: str, shape: tuple[int, ...]) -> Any:
    """layer.params[key], whose shape is checked: the driver may have replaced it."""
    who = type(layer).__name__
    if key not in layer.params:
        raise ValueError(f"{who}.params has no {key!r}")
    check_same_shape(layer.params[key], shape, who, name=f"params[{key!r}]")
    return layer.params[key]


def pair(value: Any, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints -> (height, width), like torch's kernel_size/stride/padding arguments."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in values):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return values  # type: ignore[return-value]


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value
