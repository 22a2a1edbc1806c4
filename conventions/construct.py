"""Building a user's class from torch's constructor arguments: each torch keyword passed under the name the class
gives it (``kernel_size`` as ``filter_size``, ``pool_h`` and ``pool_w``), or, for the arrays convention, the
weights themselves. A keyword the class has no name for is declined (TypeError: the configuration is
unsupported) unless it holds torch's default."""

from __future__ import annotations

import inspect
from typing import Any

from lenet_parity.conventions.names import ARGUMENT_NAMES, BIAS_NAMES, WEIGHT_NAMES, normalise

TORCH_DEFAULTS = {  # torch class -> keyword -> default (a keyword at its default may go unnamed)
    "Conv2d": {"stride": 1, "padding": 0, "bias": True, "dilation": 1, "groups": 1},
    "MaxPool2d": {"stride": None, "padding": 0, "dilation": 1},
    "Linear": {"bias": True},
    "Flatten": {"start_dim": 1, "end_dim": -1},
    "LogSoftmax": {"dim": 1},
    "NLLLoss": {"reduction": "mean"},
    "ReLU": {"inplace": False},
    "AvgPool2d": {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True, "divisor_override": None},
    "Softmax": {"dim": 1},
    "CrossEntropyLoss": {"reduction": "mean"},
}


def parameters(cls: Any) -> list[inspect.Parameter]:
    """The parameters of a class's constructor or of a function or method (without self); empty when they cannot
    be read."""
    try:
        return list(inspect.signature(cls).parameters.values())
    except Exception:  # noqa: BLE001 - a builtin, or a __signature__ that raises
        return []


def array_parameters(cls: Any) -> tuple[str | None, str | None]:
    """The constructor's required parameters that take the weight and the bias arrays (the arrays convention:
    both, as ``Affine(W, b)``; a lone ``filters`` is a count of filters)."""
    weight = bias = None
    for p in parameters(cls):
        if p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if normalise(p.name) in WEIGHT_NAMES and weight is None:
            weight = p.name
        elif normalise(p.name) in BIAS_NAMES and bias is None:
            bias = p.name
    return (weight, bias) if weight and bias else (None, None)


def resolved(torch_class: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """torch's keywords with its implicit values made explicit (a max-pool's stride is its kernel size)."""
    kwargs = dict(kwargs)
    if torch_class == "MaxPool2d" and kwargs.get("stride") is None:
        kwargs["stride"] = kwargs.get("kernel_size")
    return kwargs


def map_arguments(cls: Any, torch_class: str, kwargs: dict[str, Any], *, skip: tuple[str, ...] = (),
                  names: dict[str, str] | None = None) -> dict[str, Any]:
    """The keyword arguments to build ``cls`` with, from torch's; TypeError when one cannot be given.

    ``names``: torch keyword -> the class's parameter name, declared (an adapter file); the rest are found by
    their usual names. ``skip``: parameters filled otherwise (the arrays)."""
    params = [p for p in parameters(cls) if p.name not in skip and p.kind not in (p.VAR_POSITIONAL,)]
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params)
    free = {normalise(p.name): p.name for p in params if p.kind != p.VAR_KEYWORD}
    given: dict[str, Any] = {}
    defaults = TORCH_DEFAULTS.get(torch_class, {})
    for key, value in resolved(torch_class, kwargs).items():
        if isinstance(value, (tuple, list)) and len(set(value)) == 1:
            value = value[0]  # (5, 5) -> 5: most code takes one size
        targets = _targets(key, free, names or {})
        if targets:
            for target in targets:
                shaped = normalise(target).endswith("shape") and key == "kernel_size" and not isinstance(value, tuple)
                given[target] = (value, value) if shaped else value  # filter_shape=(5, 5)
                free.pop(normalise(target), None)
        elif takes_any and names is None:
            given[key] = value
        elif key in defaults and (value == defaults[key] or defaults[key] is None):
            continue
        else:
            raise TypeError(f"{getattr(cls, '__name__', cls)} has no parameter for {key}={value!r}")
    missing = [p.name for p in params if p.default is inspect.Parameter.empty and p.kind != p.VAR_KEYWORD
               and p.name not in given]
    if missing:
        raise TypeError(f"{getattr(cls, '__name__', cls)}: no torch argument means its parameter "
                        f"{', '.join(missing)} (declare it in an adapter file)")
    return given


def _targets(key: str, free: dict[str, str], names: dict[str, str]) -> list[str]:
    """The class's parameters that receive torch's ``key`` (two for a kernel given as pool_h and pool_w)."""
    if key in names:
        declared = names[key]
        return [declared] if isinstance(declared, str) else list(declared)
    found = [free[n] for n in ARGUMENT_NAMES.get(key, ()) if n in free][:1]
    if key == "kernel_size":
        found += [free[n] for n in ARGUMENT_NAMES["kernel_size_w"] if n in free][:1]
    return found
