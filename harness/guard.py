"""Run a layer's methods safely: whatever a (user's) layer does wrong becomes a reason, never a crash.

A constructor or method that raises, a missing method or ``params``/``grads`` entry, or a return value
that is not an array of numbers raises :class:`LayerError`, whose message the checks put in the
CheckResult's ``error``. Wrong shapes and NaN/Inf are left to compare(), which reports them in detail.
Arrays cross over in the layer's ``array_kind`` (numpy arrays of the check dtype, or nested lists).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Callable

import numpy as np

from lenet_parity.custom_layers.protocol import array_kind
from lenet_parity.harness.compare import to_numpy
from lenet_parity.harness.isolation import OpaqueValue, describe_exception  # noqa: F401 - re-exported

_MISSING = object()


class LayerError(Exception):
    """The layer broke the protocol or crashed; the message is the reason shown in the report."""


def _name(layer: Any) -> str:
    return type(layer).__name__


def read_attr(layer: Any, name: str) -> Any:
    """``layer.name``, None when missing; a property that raises (or a worker that dies reading it) is a
    LayerError naming it."""
    try:
        return getattr(layer, name, None)
    except (Exception, SystemExit) as exc:
        raise LayerError(f"reading {_name(layer)}.{name} raised {describe_exception(exc)}") from exc


def build(make_layer: Callable[[Any], Any], spec: Any) -> tuple[Any, str]:
    """A fresh layer for ``spec`` and its array kind."""
    call_text = f"{spec.cls}({', '.join(f'{k}={v!r}' for k, v in spec.kwargs.items())})"
    try:
        layer = make_layer(spec)
    except (Exception, SystemExit) as exc:  # a user's constructor may raise anything, even call exit()
        raise LayerError(f"building {call_text} raised {describe_exception(exc)}") from exc
    try:
        return layer, array_kind(layer)
    except ValueError as exc:
        raise LayerError(str(exc)) from exc
    except (Exception, SystemExit) as exc:
        raise LayerError(f"reading {_name(layer)}.array_kind raised {describe_exception(exc)}") from exc


def set_attr(layer: Any, name: str, value: Any) -> None:
    """Set ``training`` or ``mask`` (e.g. a class with __slots__ can refuse)."""
    try:
        setattr(layer, name, value)
    except Exception as exc:
        raise LayerError(f"cannot set {_name(layer)}.{name}: {describe_exception(exc)}") from exc


def call(layer: Any, method: str, *args: Any) -> Any:
    """``layer.method(*args)``; a missing method or any exception is a LayerError naming it."""
    fn = read_attr(layer, method)
    if not callable(fn):
        raise LayerError(f"{_name(layer)} has no {method}() method (the layer protocol needs forward and backward)")
    try:
        return fn(*args)
    except (Exception, SystemExit) as exc:
        raise LayerError(f"{_name(layer)}.{method}() raised {describe_exception(exc)}") from exc


def to_layer(arr: Any, kind: str, dtype: str) -> Any:
    """A numpy array -> the layer's array kind in the check dtype (always a copy the layer may keep)."""
    arr = np.array(arr, dtype=dtype, copy=True)
    return arr.tolist() if kind == "list" else arr


def targets_to_layer(targets: Any, kind: str) -> Any:
    """Class indices: an int64 array for numpy layers, a list of ints for list layers."""
    targets = np.asarray(targets, dtype=np.int64)
    return targets.tolist() if kind == "list" else targets.copy()


def not_numbers(value: Any) -> str | None:
    """What ``value`` is when it cannot be an array of numbers (None, a dict, a string, a generator ...), else None."""
    if value is None:
        return "None (forgot a return statement?)"
    if isinstance(value, OpaqueValue):  # from a worker: what the layer's object was
        return f"a {value.type_name}, not an array of numbers"
    if isinstance(value, (str, bytes, dict)):  # numpy would parse "0.5" as a number
        return f"a {type(value).__name__}, not an array of numbers"
    return None


def from_layer(value: Any, dtype: str, what: str) -> np.ndarray:
    """What a layer returned, as a numpy array of the check dtype (shape and values are compare()'s job)."""
    if (wrong := not_numbers(value)) is not None:
        raise LayerError(f"{what} returned {wrong}")
    try:
        arr = to_numpy(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"dtype {arr.dtype}")
        return np.asarray(arr, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: an int like 10**400
        raise LayerError(f"{what} returned a {type(value).__name__} that is not an array of numbers "
                         f"({describe_exception(exc)})") from exc


def params_of(layer: Any) -> MutableMapping:
    params = read_attr(layer, "params")
    if not isinstance(params, MutableMapping):
        raise LayerError(f"{_name(layer)}.params is {type(params).__name__}, expected a dict of torch's "
                         f"parameter names to arrays (the layer protocol)")
    return params


def load_params(layer: Any, values: Mapping[str, np.ndarray], kind: str, dtype: str) -> None:
    """Replace the layer's params (and batchnorm buffers) with the check's values, as the protocol allows."""
    if not values:
        return
    params = params_of(layer)
    for key, value in values.items():
        try:
            params[key] = to_layer(value, kind, dtype)
        except Exception as exc:
            raise LayerError(f"cannot set {_name(layer)}.params[{key!r}]: {describe_exception(exc)}") from exc


def read_param(layer: Any, key: str, dtype: str, when: str) -> np.ndarray:
    """``layer.params[key]`` (batchnorm's running stats after forward) as a numpy array."""
    params = params_of(layer)
    try:
        value = params[key] if key in params else _MISSING
    except (Exception, SystemExit) as exc:
        raise LayerError(f"reading {_name(layer)}.params[{key!r}] raised {describe_exception(exc)}") from exc
    if value is _MISSING:
        raise LayerError(f"{_name(layer)}.params has no {key!r} {when}")
    return from_layer(value, dtype, f"{_name(layer)}.params[{key!r}]")


def read_grad(layer: Any, key: str, dtype: str) -> np.ndarray:
    """``layer.grads[key]`` after backward as a numpy array."""
    grads = read_attr(layer, "grads")
    if not isinstance(grads, Mapping):
        raise LayerError(f"{_name(layer)}.grads is {type(grads).__name__} after backward(), expected a dict "
                         f"with the keys of the trainable params")
    try:
        value = grads[key] if key in grads else _MISSING
        keys = sorted(map(str, grads)) if value is _MISSING else []
    except (Exception, SystemExit) as exc:
        raise LayerError(f"reading {_name(layer)}.grads[{key!r}] raised {describe_exception(exc)}") from exc
    if value is _MISSING:
        raise LayerError(f"{_name(layer)}.grads has no {key!r} after backward() (keys: {keys})")
    return from_layer(value, dtype, f"{_name(layer)}.grads[{key!r}]")
