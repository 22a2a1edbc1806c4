"""The attributes convention: a layer object that keeps its weights in ``W``/``b`` (or ``weights``, ``params['W']``
...), its gradients in ``dW``/``db`` (or ``grad_W``, ``grads['W']``, or returns ``(dx, dW, db)``, or leaves dx in
an attribute), accumulates gradients until ``zero_grad()``, or updates its own weights in ``backward(dout, lr)``.
``AttributesLayer`` wraps one in our protocol: ``params``/``grads`` in torch's names and layouts.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np

from lenet_parity.conventions.construct import parameters
from lenet_parity.conventions.names import (BACKWARD_METHODS, BIAS_NAMES, FORWARD_METHODS, GRAD_DICTS,
                                            INPUT_GRAD_NAMES, LEARNING_RATES, OUTPUT_NAMES, PARAM_DICTS, WEIGHT_NAMES,
                                            ZERO_GRAD_METHODS, grad_names, method, normalise)
from lenet_parity.conventions.slots import LAYOUTS, Slot, find_array, layouts_fitting

LOSSES = ("NLLLoss", "CrossEntropyLoss")


def torch_shapes(torch_class: str, kwargs: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """torch's parameter shapes for these constructor arguments (empty for a layer without parameters)."""
    def size(value: Any) -> tuple[int, int]:
        return tuple(value) if isinstance(value, (tuple, list)) else (value, value)

    if torch_class == "Conv2d":
        out = kwargs["out_channels"]
        shapes = {"weight": (out, kwargs["in_channels"], *size(kwargs["kernel_size"]))}
    elif torch_class == "Linear":
        out = kwargs["out_features"]
        shapes = {"weight": (out, kwargs["in_features"])}
    else:
        return {}
    if kwargs.get("bias", True):
        shapes["bias"] = (out,)
    return shapes


class ParamView(dict):
    """``params`` of a wrapped layer: torch's names and layouts, read from and written to the layer's own places."""

    def __init__(self, layer: "AttributesLayer"):
        super().__init__()
        self._layer = layer
        for key in layer.slots:
            dict.__setitem__(self, key, None)

    def __getitem__(self, key: str) -> np.ndarray:
        layer = self._layer
        return layer.slots[key].get(layer.user, layer.shapes[key])

    def __setitem__(self, key: str, value: Any) -> None:
        layer = self._layer
        if key not in layer.slots:
            raise KeyError(f"{type(layer.user).__name__} has no {key} (found: {', '.join(layer.slots) or 'none'})")
        layer.slots[key].set(layer.user, value)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def items(self):
        return [(k, self[k]) for k in self]

    def values(self):
        return [self[k] for k in self]


class AttributesLayer:
    """Our protocol around ``user``, a layer object of the attributes convention (or our own protocol's: then
    ``params`` and ``grads`` are its dicts)."""

    def __init__(self, user: Any, torch_class: str, kwargs: dict[str, Any], *, declared: dict[str, Any] | None = None,
                 tell: Any = None):
        declared = declared or {}
        object.__setattr__(self, "tell", tell or (lambda text: None))  # called with describe() when it grows
        object.__setattr__(self, "user", user)
        object.__setattr__(self, "torch_class", torch_class)
        object.__setattr__(self, "shapes", torch_shapes(torch_class, kwargs))
        object.__setattr__(self, "declared", declared)
        object.__setattr__(self, "slots", {key: self._find(key, shape) for key, shape in self.shapes.items()})
        object.__setattr__(self, "params", ParamView(self))
        object.__setattr__(self, "grads", {})
        object.__setattr__(self, "grad_source", "")
        object.__setattr__(self, "array_kind", getattr(user, "array_kind", "numpy"))
        object.__setattr__(self, "forward_name", method(user, FORWARD_METHODS) or "forward")
        object.__setattr__(self, "backward_name", method(user, BACKWARD_METHODS) or "backward")

    # ---- what was found ----
    def _find(self, key: str, torch_shape: tuple[int, ...]) -> Slot:
        names = (normalise(self.declared[key]),) if key in self.declared else (
            WEIGHT_NAMES if key == "weight" else BIAS_NAMES)
        position = 0 if key == "weight" else 1  # in a list of params: [W, b]
        slot = (find_array(self.user, names, PARAM_DICTS, ndim=len(torch_shape), position=position) if key == "weight"
                else find_array(self.user, names, PARAM_DICTS, size=int(np.prod(torch_shape)), position=position))
        if slot is None:
            raise TypeError(f"{type(self.user).__name__} keeps no {key} of torch's shape {torch_shape} in an attribute "
                            f"named like {', '.join(names[:4])} (declare it in an adapter file)")
        if key == "weight":
            layout = self.declared.get("weight_layout")
            fitting = [layout] if layout else layouts_fitting(slot.shape, torch_shape)
            if not fitting:
                raise TypeError(f"{type(self.user).__name__}.{slot.describe()} has shape {slot.shape}, not a layout of "
                                f"torch's {torch_shape}")
            slot.layout = fitting[0] if len(fitting) == 1 else self._probe_layout(slot, torch_shape, fitting)
        return slot

    def _probe_layout(self, slot: Slot, torch_shape: tuple[int, ...], fitting: list[str]) -> str:
        """A square Linear weight: which of (out, in) and (in, out) the layer computes with, seen on a copy."""
        twin = copy.deepcopy(self.user)
        rng = np.random.default_rng(0)
        weight = rng.standard_normal(torch_shape)
        eye = np.eye(torch_shape[1])
        for bias in (self.shapes.get("bias"),):
            if bias is not None:
                bias_slot = find_array(twin, BIAS_NAMES, PARAM_DICTS, size=int(np.prod(bias)))
                if bias_slot is not None:
                    bias_slot.set(twin, np.zeros(bias))
        Slot(slot.place, slot.key, "torch", slot.shape).set(twin, weight)  # stored as is
        try:
            out = np.asarray(twin.forward(eye))
        except Exception:  # noqa: BLE001 - let the real checks report it
            return fitting[0]
        if np.allclose(out, weight.T):  # y = x @ W.T: W is (out, in)
            return "torch"
        return "in,out" if np.allclose(out, weight) else fitting[0]

    def describe(self) -> str:
        parts = [f"{slot.describe()} {np.shape(slot.read(self.user))} as {key}" for key, slot in self.slots.items()]
        if self.grad_source:
            parts.append(self.grad_source)
        parts += self.__dict__.get("_notes", [])
        return ", ".join(parts) if parts else "no parameters"

    def _note(self, text: str) -> None:
        """Something the adapter read in a way the report should say (once)."""
        notes = self.__dict__.setdefault("_notes", [])
        if text not in notes:
            notes.append(text)
            self.tell(self.describe())

    # ---- the protocol ----
    def forward(self, *args: Any) -> Any:
        forward = getattr(self.user, self.forward_name)
        if self.torch_class in LOSSES:
            object.__setattr__(self, "_loss_inputs", args)
            if len(args) == 2 and _targets_first(forward):
                args = args[::-1]  # forward(y_true, y_pred): Keras's order
            if callable(getattr(self.user, "calculate", None)):  # nnfs: forward gives per-sample losses
                return self.user.calculate(*args)
        result = forward(*args)
        if self.torch_class in LOSSES and isinstance(result, tuple) and len(result) == 2:
            object.__setattr__(self, "_loss_grad", result[1])  # (loss, dx): softmax_loss's style
            return result[0]
        if result is None and (output := _output(self.user)) is not None:  # nnfs: forward stores self.output
            self._note("forward returns None: its output read from self.output")
            return output
        return result

    def backward(self, *args: Any) -> Any:
        for name in ZERO_GRAD_METHODS:  # gradients that accumulate until reset: reset before each backward
            method = getattr(self.user, name, None)
            if callable(method):
                method()
                break
        learning_rate = self._learning_rate_parameter()
        if learning_rate is not None and self.slots:
            return self._backward_by_update(args, learning_rate)
        if learning_rate is not None:  # a layer without weights that takes the rate anyway: nothing moves at 0
            return self._collect(getattr(self.user, self.backward_name)(*args, **{learning_rate: 0.0}))
        if self.torch_class in LOSSES:
            return self._loss_backward()
        result = getattr(self.user, self.backward_name)(*args)
        return self._collect(result)

    def _loss_backward(self) -> Any:
        """dlogp: from backward() (or backward(1.0), a loss that takes the upstream gradient), from an attribute
        it left, or from what forward returned beside the loss."""
        stored = self.__dict__.get("_loss_grad")
        backward = getattr(self.user, self.backward_name, None)
        if not callable(backward):
            return stored
        needs = [p for p in parameters(backward) if p.default is inspect.Parameter.empty]
        if len(needs) >= 2:  # nnfs: backward(dvalues, y_true), given what forward was
            result = backward(*self.__dict__.get("_loss_inputs", ()))
        else:
            result = backward(*([1.0] if needs else []))
        if result is None:
            result = stored if stored is not None else _input_grad(self.user)
        return result[0] if isinstance(result, tuple) else result

    def _collect(self, result: Any) -> Any:
        """dx from backward's result (or an attribute), and the gradients from the tuple or the attributes."""
        returned = list(result[1:]) if isinstance(result, tuple) else []
        dx = result[0] if isinstance(result, tuple) else result
        if dx is None and (dx := _input_grad(self.user)) is not None:
            self._note("backward returns None: dx read from its attribute")
        grads, sources = {}, []
        for index, (key, slot) in enumerate(self.slots.items()):
            if index < len(returned) and returned[index] is not None:
                grads[key] = _to_torch(returned[index], slot, self.shapes[key])
                sources.append(f"d{key} returned")
                continue
            found = self._grad_slot(key, slot)
            if found is not None:
                grads[key] = _to_torch(found.read(self.user), slot, self.shapes[key])
                sources.append(found.describe())
        object.__setattr__(self, "grads", grads)
        if sources and not self.grad_source:
            object.__setattr__(self, "grad_source", "gradients " + ", ".join(sources))
            self.tell(self.describe())
        return dx

    def _grad_slot(self, key: str, slot: Slot) -> Slot | None:
        if slot.member == "data":  # a parameter object: its gradient beside its data
            return Slot(slot.place, slot.key, slot.layout, slot.shape, member="grad")
        if isinstance(slot.key, int):  # params = [W, b]: grads = [dW, db] at the same place
            found = find_array(self.user, (), GRAD_DICTS, size=int(np.prod(self.shapes[key])), position=slot.key)
            if found is not None:
                return found
        declared = self.declared.get(f"grad_{key}")
        own = normalise(slot.key if slot.key is not None else slot.place)
        names = (normalise(declared),) if declared else grad_names(
            (own, *(("w", "weight", "weights") if key == "weight" else ("b", "bias", "biases"))))
        size = int(np.prod(self.shapes[key]))
        return (find_array(self.user, names, (), size=size)
                or find_array(self.user, (own, *((WEIGHT_NAMES if key == "weight" else BIAS_NAMES))), GRAD_DICTS,
                              size=size))

    def _learning_rate_parameter(self) -> str | None:
        params = parameters(getattr(self.user, self.backward_name, None))
        for p in params[1:]:
            if normalise(p.name) in LEARNING_RATES:
                return p.name
        return None

    def _backward_by_update(self, args: tuple, name: str) -> Any:
        """backward(dout, lr) that updates its own weights: dx from the call at lr = 1 (so a dx computed with the
        weights already updated shows), its weights then put back; each gradient, exactly, from a copy whose
        weights were zero, called at lr = 1: its weights are then -grad."""
        twin = copy.deepcopy(self.user)
        saved = {key: (Slot(slot.place, slot.key, "torch", slot.shape), np.array(slot.read(self.user), copy=True))
                 for key, slot in self.slots.items()}
        dx = getattr(self.user, self.backward_name)(*args, **{name: 1.0})
        for raw, value in saved.values():
            raw.set(self.user, value)
        dx = dx[0] if isinstance(dx, tuple) else dx
        if dx is None:
            dx = _input_grad(self.user)
        for key, slot in self.slots.items():
            slot.set(twin, np.zeros(self.shapes[key]))
        getattr(twin, self.backward_name)(*args, **{name: 1.0})
        grads = {key: -slot.get(twin, self.shapes[key]) for key, slot in self.slots.items()}
        object.__setattr__(self, "grads", grads)
        if not self.grad_source:
            object.__setattr__(self, "grad_source", f"backward(dout, {name}) updates the weights itself: gradients "
                                                    f"recovered exactly from the update at {name}=1 on a copy, the "
                                                    f"weights put back after each backward")
            self.tell(self.describe())
        return dx

    # ---- everything else is the user's object's ----
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "user"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("params", "grads"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.user, name, value)




TARGET_NAMES = ("ytrue", "y", "target", "targets", "label", "labels", "t", "truth", "yt")


def _targets_first(method: Any) -> bool:
    """A loss whose forward names its first argument like the targets (``forward(y_true, y_pred)``)."""
    names = [normalise(p.name) for p in parameters(method)[:2]]
    return len(names) == 2 and names[0] in TARGET_NAMES and names[1] not in TARGET_NAMES


def _input_grad(user: Any) -> Any:
    """dx left in an attribute by a backward that returned None."""
    return _attribute_array(user, INPUT_GRAD_NAMES)


def _output(user: Any) -> Any:
    """The output left in an attribute by a forward that returned None (nnfs's ``self.output``)."""
    return _attribute_array(user, OUTPUT_NAMES)


def _attribute_array(user: Any, names: tuple[str, ...]) -> Any:
    found = {normalise(name): value for name, value in vars(user).items() if isinstance(value, np.ndarray)}
    return next((found[name] for name in names if name in found), None)


def _to_torch(value: Any, slot: Slot, torch_shape: tuple[int, ...]) -> np.ndarray:
    """A gradient in the layer's layout (that of its parameter) -> torch's."""
    value = np.asarray(value)
    if slot.layout != "torch" and value.size == int(np.prod(torch_shape)):
        value = LAYOUTS[slot.layout][1](value.reshape(slot.shape) if slot.shape else value)
    return value.reshape(torch_shape) if value.size == int(np.prod(torch_shape)) else value
