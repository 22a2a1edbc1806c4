"""The layer protocol: the contract every custom layer follows, ours and users' own.

A layer mirrors a ``torch.nn`` module:

* It is constructed with the same keyword arguments as its torch twin, e.g.
  ``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0)``,
  ``MaxPool2d(kernel_size, stride=None)`` (stride defaults to kernel_size), ``Linear(in_features,
  out_features)``, ``LogSoftmax(dim=1)``, ``BatchNorm2d(num_features, eps=1e-5, momentum=0.1)``,
  ``Dropout(p=0.5)``, ``Residual(channels, kernel_size=3)``.
* ``array_kind`` (class attribute): ``"numpy"`` (numpy.ndarray) or ``"list"`` (nested Python lists
  of floats). Absent means ``"numpy"``.
* ``params``: dict from torch's parameter names to arrays of torch's shapes (``weight`` is
  ``(out, in, kh, kw)`` or ``(out, in)``, ``bias`` is ``(out,)``; batchnorm also holds the buffers
  ``running_mean`` and ``running_var``). Empty for layers without parameters. Whoever drives the
  layer may replace entries of ``params`` before calling ``forward``.
* ``forward(x) -> y`` and ``backward(dy) -> dx``, NCHW, batch first. After ``backward``, ``grads``
  is a dict with the trainable params' keys (``weight``, ``bias``) holding d(sum(y * dy))/d(param);
  each backward overwrites it, never accumulates.
* Layers that behave differently in training and evaluation (batchnorm, dropout) have a
  ``training`` attribute (True by default, like torch).
* Losses: ``forward(logp, target) -> float`` (the mean over the batch), ``backward() -> dlogp``.

Optional: a layer may skip computing dx when its ``needs_input_grad`` attribute is False (the driver sets it
on a network's first layer, whose dx nobody reads; torch skips it too) and return None; ``grads`` are still set.

Dropout's mask can be injected (``layer.mask = ...``, the scaled keep-mask of x's shape, values 0 or
1/(1-p)) so that a check can share torch's mask; when ``mask`` is None a new one is drawn.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

ARRAY_KINDS = ("numpy", "list")
TRAINABLE = ("weight", "bias")


@runtime_checkable
class Layer(Protocol):
    params: dict[str, Any]
    grads: dict[str, Any]

    def forward(self, x: Any) -> Any: ...

    def backward(self, dy: Any) -> Any: ...


@runtime_checkable
class Loss(Protocol):
    def forward(self, logp: Any, target: Any) -> float: ...

    def backward(self) -> Any: ...


def array_kind(layer: Any) -> str:
    """The array type a layer reads and writes: ``"numpy"`` unless it says ``"list"``."""
    kind = getattr(layer, "array_kind", "numpy")
    if kind not in ARRAY_KINDS:
        raise ValueError(f"{type(layer).__name__}.array_kind is {kind!r}; expected one of {ARRAY_KINDS}")
    return kind


def missing_methods(layer: Any, *, loss: bool = False) -> list[str]:
    """The protocol members a layer object lacks (empty when it follows the protocol)."""
    needed = ("forward", "backward") if loss else ("forward", "backward", "params")
    return [name for name in needed if not hasattr(layer, name)]


def accepts(cls: Any, kwargs: dict[str, Any]) -> bool:
    """Whether ``cls(**kwargs)`` fits the constructor's signature (True when it cannot be inspected): a layer
    declines a torch keyword by not naming it."""
    return fits(signature_of(cls), kwargs)


def signature_of(cls: Any) -> list[tuple[str, int, bool]] | None:
    """The constructor's parameters as plain data, (name, kind, has a default) each; None when it cannot be read
    (an isolated worker sends this, and the checker judges with ``fits``)."""
    try:
        signature = inspect.signature(cls)
    except Exception:  # noqa: BLE001 - TypeError, ValueError, or a user's __signature__ that raises anything
        return None
    return [(p.name, int(p.kind), p.default is not inspect.Parameter.empty) for p in signature.parameters.values()]


def fits(parameters: list[tuple[str, int, bool]] | None, kwargs: dict[str, Any]) -> bool:
    """Whether keyword arguments ``kwargs`` bind to these parameters (True when they are unknown)."""
    if parameters is None:
        return True
    try:
        signature = inspect.Signature([inspect.Parameter(name, inspect._ParameterKind(kind),
                                                         default=None if has_default else inspect.Parameter.empty)
                                       for name, kind, has_default in parameters])
    except (TypeError, ValueError):  # not a signature (sent by a worker that misbehaves): unknown
        return True
    try:
        signature.bind(**kwargs)
    except TypeError:
        return False
    return True
    try:
        signature.bind(**kwargs)
    except TypeError:
        return False
    return True
