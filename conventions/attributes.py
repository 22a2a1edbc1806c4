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
                                            LOSSES, ZERO_GRAD_METHODS, grad_names, method, normalise)
from lenet_parity.conventions.slots import LAYOUTS, Slot, find_array, layout_by_values, layouts_fitting



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
        object.__setattr__(self, "kwargs", dict(kwargs))
        object.__setattr__(self, "declared", declared)
        object.__setattr__(self, "forward_name", method(user, FORWARD_METHODS) or "forward")
        object.__setattr__(self, "backward_name", method(user, BACKWARD_METHODS) or "backward")
        object.__setattr__(self, "slots", {key: self._find(key, shape) for key, shape in self.shapes.items()})
        object.__setattr__(self, "params", ParamView(self))
        object.__setattr__(self, "grads", {})
        object.__setattr__(self, "grad_source", "")
        object.__setattr__(self, "array_kind", getattr(user, "array_kind", "numpy"))


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
        """A weight whose shape fits several layouts (a square Linear; a conv whose (F, C, k, k) is also (F, k, k,
        C)): the one in which a copy of the layer computes torch's output (zero bias)."""
        def run(layout: str, weight: np.ndarray, x: np.ndarray) -> Any:
            twin = copy.deepcopy(self.user)
            bias = self.shapes.get("bias")
            bias_slot = find_array(twin, BIAS_NAMES, PARAM_DICTS, size=int(np.prod(bias))) if bias else None
            if bias_slot is not None:
                bias_slot.set(twin, np.zeros(bias))
            Slot(slot.place, slot.key, layout, slot.shape, slot.member).set(twin, weight)
            return getattr(twin, self.forward_name)(x)

        found = layout_by_values(self.torch_class, self.kwargs, fitting, run)
        if found is None:
            raise TypeError(f"{type(self.user).__name__}.{slot.describe()} of shape {slot.shape} fits the layouts "
                            f"{', '.join(fitting)} and no single one computes torch's output: declare weight_layout "
                            f"in an adapter file")
        return found

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
        result = forward(*args)
        if self.torch_class in LOSSES and callable(getattr(self.user, "calculate", None)) and (
                result is None or np.ndim(result) == 1):  # nnfs: forward gives per-sample losses, calculate the mean
            result = self.user.calculate(*args)
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
        object.__setattr__(self, "_before", _arrays_of(self.user))  # to tell which gradient backward wrote
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
        logp, target = (self.__dict__.get("_loss_inputs", ()) + (None, None))[:2]
        if len(needs) >= 2:  # backward(dvalues, y_true) (nnfs), or backward(y_true, y_pred) (Keras's order)
            result = backward(*((target, logp) if _targets_first(backward) else (logp, target)))
        elif needs and normalise(needs[0].name) in TARGET_NAMES:  # backward(target)
            result = backward(target)
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
        own = normalise(str(slot.key) if slot.key is not None else slot.place)
        names = (normalise(declared),) if declared else grad_names(
            (own, *(("w", "weight", "weights") if key == "weight" else ("b", "bias", "biases"))))
        size = int(np.prod(self.shapes[key]))
        candidates = [find_array(self.user, (name,), (), size=size) for name in names]
        candidates += [find_array(self.user, (name,), GRAD_DICTS, size=size, in_attributes=False)
                       for name in (own, *(WEIGHT_NAMES if key == "weight" else BIAS_NAMES))]
        found = [c for c in candidates if c is not None]
        before = self.__dict__.get("_before", {})
        written = [c for c in found if _changed(c, self.user, before)]  # not a leftover from __init__
        return (written or found or [None])[0]

    def _learning_rate_parameter(self) -> str | None:
        params = parameters(getattr(self.user, self.backward_name, None))
        for p in params[1:]:
            if normalise(p.name) in LEARNING_RATES:
                return p.name
        return None

    def _backward_by_update(self, args: tuple, name: str) -> Any:
        """backward(dout, lr) that updates its own weights: dx from the call at lr = 1 (so a dx computed with the
        weights already updated shows), its weights then put back; each gradient, exactly, from a copy whose
        weights were zero, called at lr = 1 (its weights are then -grad); and a check on a copy with the real
        weights at lr = 1/2 that the update is W -= lr * grad (not lr applied twice or not at all, nor a term that
        depends on the weights), else the layer fails saying so."""
        zero, halved = copy.deepcopy(self.user), copy.deepcopy(self.user)
        saved = {key: (Slot(slot.place, slot.key, "torch", slot.shape, slot.member),
                       np.array(slot.read(self.user), copy=True)) for key, slot in self.slots.items()}
        backward = self.backward_name
        dx = getattr(self.user, backward)(*args, **{name: 1.0})
        for raw, value in saved.values():
            raw.set(self.user, value)
        dx = dx[0] if isinstance(dx, tuple) else dx
        if dx is None:
            dx = _input_grad(self.user)
        for key, (raw, value) in saved.items():
            raw.set(zero, np.zeros_like(value))
        getattr(zero, backward)(*args, **{name: 1.0})
        getattr(halved, backward)(*args, **{name: 0.5})
        grads = {}
        for key, slot in self.slots.items():
            raw, before = saved[key]
            grads[key] = -slot.get(zero, self.shapes[key]).astype(before.dtype)
            moved = LAYOUTS[slot.layout][1](((before - np.asarray(raw.read(halved))) / 0.5).reshape(before.shape))
            scale = max(1.0, float(np.max(np.abs(grads[key])))) if grads[key].size else 1.0
            if not np.allclose(moved.reshape(self.shapes[key]), grads[key], rtol=1e-3, atol=1e-5 * scale):
                raise RuntimeError(f"backward(dout, {name}) does not update {slot.describe()} -= {name} * grad: "
                                   f"the change at {name}=0.5 with its own weights is not half the one at {name}=1 "
                                   f"from zero weights (the rate applied twice or not at all, or an update that "
                                   f"depends on the weights)")
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


def _arrays_of(user: Any) -> dict[str, tuple[int, np.ndarray]]:
    """Every array the object holds (in attributes, dicts and lists), by where: its identity and a copy."""
    found = {}
    for name, value in vars(user).items():
        entries = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else None
        if entries is None:
            entries = [(None, value)]
        for key, item in entries:
            if isinstance(item, np.ndarray):
                found[f"{name}[{key!r}]" if key is not None else name] = (id(item), item.copy())
    return found


def _changed(slot: Slot, user: Any, before: dict[str, tuple[int, np.ndarray]]) -> bool:
    """Whether backward (re)wrote this array: a new object, or new values."""
    where = slot.place if slot.key is None else f"{slot.place}[{slot.key!r}]"
    if where not in before or slot.member:
        return True
    value = slot.read(user)
    ident, old = before[where]
    return id(value) != ident or not np.array_equal(np.asarray(value), old)


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
    if slot.layout != "torch" and value.shape == tuple(torch_shape) != tuple(slot.shape or ()):
        return value  # kept in torch's layout already (dW (out, in) beside a W (in, out))
    if slot.layout != "torch" and value.size == int(np.prod(torch_shape)):
        value = LAYOUTS[slot.layout][1](value.reshape(slot.shape) if slot.shape else value)
    return value.reshape(torch_shape) if value.size == int(np.prod(torch_shape)) else value
