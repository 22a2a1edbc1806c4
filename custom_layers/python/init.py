"""Seeded He (Kaiming) and Glorot (Xavier) initialisation as nested lists: torch.nn.init's formulas.

Mirrors torch.nn.init.{kaiming,xavier}_{normal,uniform}_, calculate_gain and the fan definitions, but
returns a new nested list instead of filling a tensor. The NumPy twin (numpy/init.py) reuses the
formulas in this file (fans, gains, std/bound), which import nothing but ``math`` and ``random``.
"""

from __future__ import annotations

import math
import random
from typing import Any, Iterable, Mapping

FAN_MODES = ("fan_in", "fan_out")
_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch.nn.init.calculate_gain: the factor that keeps activations' variance through the nonlinearity."""
    if nonlinearity in _LINEAR_FNS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01  # torch's default negative slope
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; known: {_LINEAR_FNS + ('tanh', 'relu', 'leaky_relu', 'selu')}")


def check_shape(shape: Iterable[int]) -> tuple[int, ...]:
    """The shape as a tuple of positive ints, or a ValueError that names the problem."""
    shape = tuple(shape)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ValueError(f"shape {shape} must be a tuple of positive ints")
    return shape


def fan_in_and_fan_out(shape: Iterable[int]) -> tuple[int, int]:
    """torch's fans: (in * receptive field, out * receptive field) for a weight of shape (out, in, *kernel)."""
    shape = check_shape(shape)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a shape with at least 2 dimensions, got {shape}")
    receptive_field = math.prod(shape[2:])  # kh * kw for a conv weight, 1 for a linear one
    return shape[1] * receptive_field, shape[0] * receptive_field


def kaiming_std(shape: Iterable[int], a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> float:
    """std = gain / sqrt(fan), where fan is fan_in (keeps forward variance) or fan_out (backward)."""
    if mode not in FAN_MODES:
        raise ValueError(f"mode {mode!r} not supported; use one of {FAN_MODES}")
    fan_in, fan_out = fan_in_and_fan_out(shape)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def xavier_std(shape: Iterable[int], gain: float = 1.0) -> float:
    """std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(shape)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def uniform_bound(std: float) -> float:
    """U(-b, b) has standard deviation b / sqrt(3), so b = sqrt(3) * std (torch's bound)."""
    return math.sqrt(3.0) * std


def as_random(rng: int | random.Random) -> random.Random:
    """A random.Random from a seed, or the generator itself (so several draws share one stream)."""
    if isinstance(rng, random.Random):
        return rng
    if isinstance(rng, int) and not isinstance(rng, bool):
        return random.Random(rng)
    raise ValueError(f"rng must be an int seed or a random.Random, got {type(rng).__name__}")


def _nest(flat: list[float], shape: tuple[int, ...]) -> list:
    """Fold a flat row-major list into nested lists of the given shape."""
    for size in reversed(shape[1:]):
        flat = [flat[i:i + size] for i in range(0, len(flat), size)]
    return flat


def _normal(shape: Iterable[int], std: float, rng: int | random.Random) -> list:
    shape, r = check_shape(shape), as_random(rng)
    return _nest([r.gauss(0.0, std) for _ in range(math.prod(shape))], shape)


def _uniform(shape: Iterable[int], bound: float, rng: int | random.Random) -> list:
    shape, r = check_shape(shape), as_random(rng)
    return _nest([r.uniform(-bound, bound) for _ in range(math.prod(shape))], shape)


def kaiming_normal(shape, *, rng, a=0.0, mode="fan_in", nonlinearity="leaky_relu") -> list:
    """torch.nn.init.kaiming_normal_ as a new nested list: N(0, (gain / sqrt(fan))^2)."""
    return _normal(shape, kaiming_std(shape, a, mode, nonlinearity), rng)


def kaiming_uniform(shape, *, rng, a=0.0, mode="fan_in", nonlinearity="leaky_relu") -> list:
    """torch.nn.init.kaiming_uniform_ as a new nested list: U(-b, b), b = gain * sqrt(3 / fan)."""
    return _uniform(shape, uniform_bound(kaiming_std(shape, a, mode, nonlinearity)), rng)


def xavier_normal(shape, *, rng, gain=1.0) -> list:
    """torch.nn.init.xavier_normal_ as a new nested list: N(0, gain^2 * 2 / (fan_in + fan_out))."""
    return _normal(shape, xavier_std(shape, gain), rng)


def xavier_uniform(shape, *, rng, gain=1.0) -> list:
    """torch.nn.init.xavier_uniform_ as a new nested list: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    return _uniform(shape, uniform_bound(xavier_std(shape, gain)), rng)


def shape_of(nested: Any) -> tuple[int, ...]:
    """The shape of a (rectangular) nested list, read along its first elements."""
    shape = []
    while isinstance(nested, list):
        shape.append(len(nested))
        nested = nested[0] if nested else None
    return tuple(shape)


def init_layer_he(layer: Any, *, rng: int | random.Random) -> None:
    """Initialise one layer like reference/model.py's init_he: He normal (fan_in, relu) weight, zero bias.

    Applies to layers whose ``weight`` has at least 2 dimensions (conv, linear, residual); a batchnorm's
    1-D weight keeps its own default. A ``Residual`` weight is then scaled by 0.1, as in the reference.
    Replaces the ``params`` entries (the protocol allows it) rather than writing into them.
    """
    w = layer.params.get("weight") if hasattr(layer, "params") else None
    if w is None or len(shape_of(w)) < 2:
        return
    w = kaiming_normal(shape_of(w), rng=rng, mode="fan_in", nonlinearity="relu")
    if type(layer).__name__ == "Residual":
        w = _nest([v * 0.1 for v in _flatten(w)], shape_of(w))  # start near the identity, like the reference
    layer.params["weight"] = w
    if "bias" in layer.params:
        layer.params["bias"] = [0.0] * len(layer.params["bias"])


def init_he(layers: Iterable[Any] | Mapping[str, Any], *, rng: int | random.Random) -> None:
    """init_layer_he on every layer in order, all drawn from one generator."""
    r = as_random(rng)
    for layer in (layers.values() if isinstance(layers, Mapping) else layers):
        init_layer_he(layer, rng=r)


def _flatten(nested: Any) -> list[float]:
    if not isinstance(nested, list):
        return [nested]
    return [v for item in nested for v in _flatten(item)]
