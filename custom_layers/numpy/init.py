"""Seeded He (Kaiming) and Glorot (Xavier) initialisation as NumPy arrays: torch.nn.init's formulas.

Mirrors torch.nn.init.{kaiming,xavier}_{normal,uniform}_ but returns a new array drawn from a
np.random.Generator. The fan, gain and std/bound formulas live in the pure-Python twin, python/init.py.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from lenet_parity.custom_layers.python.init import (  # noqa: F401  (re-exported: one definition of each formula)
    FAN_MODES, calculate_gain, check_shape, fan_in_and_fan_out, kaiming_std, uniform_bound, xavier_std,
)


def as_generator(rng: int | np.random.Generator) -> np.random.Generator:
    """A Generator from a seed, or the generator itself (so several draws share one stream)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be an int seed or a np.random.Generator, got {type(rng).__name__}")


def _float_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"initial weights need a floating dtype, got {dtype}")
    return dtype


# Draws are made in float64 and then rounded, so float32 and float64 weights from one seed agree.
def _normal(shape, std: float, rng, dtype) -> np.ndarray:
    dtype = _float_dtype(dtype)
    return as_generator(rng).normal(0.0, std, size=check_shape(shape)).astype(dtype, copy=False)


def _uniform(shape, bound: float, rng, dtype) -> np.ndarray:
    dtype = _float_dtype(dtype)
    return as_generator(rng).uniform(-bound, bound, size=check_shape(shape)).astype(dtype, copy=False)


def kaiming_normal(shape, *, rng, a=0.0, mode="fan_in", nonlinearity="leaky_relu", dtype=np.float64) -> np.ndarray:
    """torch.nn.init.kaiming_normal_ as a new array: N(0, (gain / sqrt(fan))^2)."""
    return _normal(shape, kaiming_std(shape, a, mode, nonlinearity), rng, dtype)


def kaiming_uniform(shape, *, rng, a=0.0, mode="fan_in", nonlinearity="leaky_relu", dtype=np.float64) -> np.ndarray:
    """torch.nn.init.kaiming_uniform_ as a new array: U(-b, b), b = gain * sqrt(3 / fan)."""
    return _uniform(shape, uniform_bound(kaiming_std(shape, a, mode, nonlinearity)), rng, dtype)


def xavier_normal(shape, *, rng, gain=1.0, dtype=np.float64) -> np.ndarray:
    """torch.nn.init.xavier_normal_ as a new array: N(0, gain^2 * 2 / (fan_in + fan_out))."""
    return _normal(shape, xavier_std(shape, gain), rng, dtype)


def xavier_uniform(shape, *, rng, gain=1.0, dtype=np.float64) -> np.ndarray:
    """torch.nn.init.xavier_uniform_ as a new array: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    return _uniform(shape, uniform_bound(xavier_std(shape, gain)), rng, dtype)


def init_layer_he(layer: Any, *, rng: int | np.random.Generator) -> None:
    """Initialise one layer like reference/model.py's init_he: He normal (fan_in, relu) weight, zero bias.

    Applies to layers whose ``weight`` has at least 2 dimensions (conv, linear, residual); a batchnorm's
    1-D weight keeps its own default. A ``Residual`` weight is then scaled by 0.1, as in the reference.
    Keeps each param's dtype and replaces the ``params`` entries (the protocol allows it).
    """
    w = layer.params.get("weight") if hasattr(layer, "params") else None
    if w is None or np.ndim(w) < 2:
        return
    dtype = _float_dtype(np.asarray(w).dtype)
    w_new = kaiming_normal(np.shape(w), rng=rng, mode="fan_in", nonlinearity="relu", dtype=np.float64)
    if type(layer).__name__ == "Residual":
        w_new *= 0.1  # start near the identity, like the reference (scaled in float64, then rounded)
    layer.params["weight"] = w_new.astype(dtype, copy=False)
    if "bias" in layer.params:
        layer.params["bias"] = np.zeros_like(np.asarray(layer.params["bias"]))


def init_he(layers: Iterable[Any] | Mapping[str, Any], *, rng: int | np.random.Generator) -> None:
    """init_layer_he on every layer in order, all drawn from one generator."""
    g = as_generator(rng)
    for layer in (layers.values() if isinstance(layers, Mapping) else layers):
        init_layer_he(layer, rng=g)
