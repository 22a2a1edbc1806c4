"""Shared argument and array checks for the NumPy backend: clear ValueErrors instead of silent garbage."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def pair(value: Any, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """torch's _pair: an int or a 2-tuple of ints -> (height, width)."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return tuple(positive_int(v, name, minimum=minimum) for v in values)  # type: ignore[return-value]


def as_float(x: Any, name: str, ndims: tuple[int, ...] = (), layout: str = "") -> np.ndarray:
    """x as a floating-point ndarray (its own dtype kept) with one of the allowed ranks."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise ValueError(f"{name}: expected a floating-point array, got dtype {x.dtype}")
    if ndims and x.ndim not in ndims:
        ranks = " or ".join(f"{d}-D" for d in ndims) + (f" {layout}" if layout else "")
        raise ValueError(f"{name}: expected a {ranks} array, got shape {x.shape}")
    return x


def upstream(dy: Any, shape: tuple, dtype: np.dtype, name: str) -> np.ndarray:
    """dy in the forward pass's dtype, with the output's shape."""
    dy = np.asarray(dy, dtype=dtype)
    if dy.shape != tuple(shape):
        raise ValueError(f"{name}.backward: dy has shape {dy.shape}, expected the output's shape {tuple(shape)}")
    return dy


def param(layer: Any, key: str, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """layer.params[key] in the input's dtype; the driver may have replaced it, so check its shape."""
    if key not in layer.params:
        raise ValueError(f"{type(layer).__name__}.params has no {key!r}")
    p = np.asarray(layer.params[key], dtype=dtype)
    if p.shape != tuple(shape):
        raise ValueError(f"{type(layer).__name__}.params[{key!r}] has shape {p.shape}, expected {tuple(shape)}")
    return p


def require_cache(layer: Any) -> Any:
    cache = getattr(layer, "_cache", None)
    if cache is None:
        raise RuntimeError(f"{type(layer).__name__}.backward() called before forward()")
    return cache


def masked(dy: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """np.where(keep, dy, 0): a multiply is ~10x faster than where() on a boolean mask, but 0 * inf is
    NaN where torch's where() gives 0, so fall back to where() when dy holds inf or NaN."""
    with np.errstate(invalid="ignore"):  # the NaN of 0 * inf is replaced below
        dx = dy * keep
    return dx if np.isfinite(dx).all() else np.where(keep, dy, 0)


def torch_default_init(shape: tuple, fan_in: int) -> np.ndarray:
    """torch's reset_parameters for Conv2d/Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float32.

    Drawn from NumPy's global generator so that seed_everything() makes it reproducible.
    """
    bound = 1.0 / math.sqrt(fan_in)
    return np.random.uniform(-bound, bound, size=shape).astype(np.float32)
