"""What a user's module offers for each of LeNet's torch layers, and through which convention.

``find(namespace)`` looks at the classes and functions defined in the user's modules: a class named like the
torch layer (``Conv2d``, ``Conv2D``, ``ConvLayer``, ``Convolution`` ...) or a function pair with its stem
(``conv_forward_naive``/``conv_backward_naive``). A class is used as it is when it follows our protocol (torch's
constructor keywords, a ``params`` dict), else through the attributes convention, or the arrays convention when
its constructor takes the weights. Two candidates for one layer are never guessed between: the message lists them.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lenet_parity.conventions.attributes import AttributesLayer, torch_shapes
from lenet_parity.conventions.construct import array_parameters, map_arguments, parameters
from lenet_parity.conventions.functions import FunctionsLayer
from lenet_parity.conventions.names import (CLASS_NAMES, FORWARD_METHODS, FUNCTION_STEMS, LOSSES, did_you_mean, method,
                                            normalise)
from lenet_parity.conventions.slots import LAYOUTS, WEIGHT_LAYOUTS, layout_by_values

TORCH_LAYERS = tuple(CLASS_NAMES)


class Ambiguous(LookupError):
    """Two or more candidates for one layer: the message lists them and how to choose."""


@dataclass
class Found:
    """One torch layer's implementation in the user's code, and how to build it as our protocol."""

    torch_class: str
    convention: str  # torchlike, attributes, arrays, functions
    source: str  # the class name, or the function pair's names
    obj: Any  # the class, or (forward, backward) functions
    declared: dict[str, Any] = field(default_factory=dict)  # from an adapter file
    details: str = ""  # what the first build found (params, layouts, gradients)
    told: bool = False  # whether the first layer built was given the callback that completes details

    def build(self, kwargs: dict[str, Any]) -> Any:
        kwargs = dict(kwargs)
        if self.convention == "functions":
            forward, backward = self.obj
            return FunctionsLayer(forward, backward, self.torch_class, kwargs, layout=self.declared.get(
                "weight_layout"), fused=backward is None, tell=self._teller())
        if self.convention == "arrays":
            user, layout = _build_with_arrays(self.obj, self.torch_class, kwargs, self.declared)
            layer = AttributesLayer(user, self.torch_class, kwargs, declared={**self.declared, "weight_layout": layout},
                                    tell=self._teller())
        else:
            user = self.obj(**map_arguments(self.obj, self.torch_class, kwargs,
                                            names=self.declared.get("arguments")))
            if not self.declared and follows_protocol(user, self.torch_class):
                self.convention = "torchlike"  # our protocol: used as it is
                return user
            self.convention = "attributes"  # torch's names, but W/b, params['W'] ...: read through the adapter
            layer = AttributesLayer(user, self.torch_class, kwargs, declared=self.declared, tell=self._teller())
        if not self.details:
            self.details = layer.describe()
        return layer

    def _teller(self):
        """For the first layer built: a callback that records what it showed once it ran backward (later builds,
        of other shapes, say the same)."""
        if self.told:
            return None
        self.told = True

        def tell(text: str) -> None:
            self.details = text

        return tell

    def describe(self) -> str:
        """``conv: ConvLayer via attributes: W (6, 1, 5, 5) as weight, b (6, 1) as bias; gradients dW, db``."""
        via = "our protocol (torch's names, params and grads dicts)" if self.convention == "torchlike" \
            else self.convention
        if self.convention == "functions" and self.obj[1] is None:
            via += " (one function: (loss, dx))"
        return f"{self.source} via {via}" + (f": {self.details}" if self.details and self.convention != "torchlike"
                                              else "")


def _build_with_arrays(cls: Any, torch_class: str, kwargs: dict[str, Any], declared: dict[str, Any]) -> tuple[Any, str]:
    """``Affine(W, b)``: the class built with weights of torch's shapes in the layout its forward multiplies with
    (found by a forward on zeros; a square weight by its values)."""
    weight_name, bias_name = array_parameters(cls)
    shapes = torch_shapes(torch_class, kwargs)
    rest = map_arguments(cls, torch_class, {k: v for k, v in kwargs.items()
                                           if k not in ("in_channels", "out_channels", "kernel_size", "in_features",
                                                        "out_features", "bias")},
                         skip=(weight_name, bias_name), names=declared.get("arguments"))
    layouts = [declared["weight_layout"]] if "weight_layout" in declared else list(
        WEIGHT_LAYOUTS[len(shapes["weight"])])

    def run(layout: str, weight: np.ndarray, x: np.ndarray) -> Any:
        arrays = {weight_name: LAYOUTS[layout][0](weight).copy(), bias_name: np.zeros(shapes["weight"][0])}
        return cls(**arrays, **rest).forward(x)

    chosen = layouts[0] if len(layouts) == 1 else layout_by_values(torch_class, kwargs, layouts, run)
    if chosen is None:
        raise TypeError(f"{cls.__name__}: no single weight layout ({', '.join(layouts)}) computes torch's output; "
                        f"declare weight_layout in an adapter file")
    arrays = {weight_name: LAYOUTS[chosen][0](np.zeros(shapes["weight"])), bias_name: np.zeros(shapes["weight"][0])}
    return cls(**arrays, **rest), chosen


def user_definitions(namespace: dict[str, Any], modules: tuple[str, ...]) -> tuple[dict[str, type], dict[str, Any]]:
    """The classes and functions the user's modules define (not those they import from numpy and elsewhere)."""
    classes, functions = {}, {}
    for name, value in namespace.items():
        if getattr(value, "__module__", None) not in modules:
            continue
        if inspect.isclass(value):
            classes[name] = value
        elif inspect.isfunction(value):
            functions[name] = value
    return classes, functions


def find(classes: dict[str, type], functions: dict[str, Any], *, convention: str | None = None,
         declared: dict[str, dict[str, Any]] | None = None, named: tuple[str, ...] = ()) -> dict[str, Found]:
    """torch class -> what implements it; Ambiguous when two candidates compete. ``convention`` forces one;
    ``declared`` (an adapter file) names each layer's class or functions and how they keep things; what the
    ``named`` modules define (the file given) comes before what they import from helpers."""
    declared = declared or {}
    found: dict[str, Found] = {}
    for torch_class in TORCH_LAYERS:
        spec = declared.get(torch_class, {})
        candidates = _candidates(torch_class, classes, functions, spec)
        if convention is not None and not spec:  # a layer the adapter file names keeps what it declares
            candidates = [c for c in candidates if c.convention == convention or
                          (convention == "attributes" and c.convention == "torchlike")]
            for c in candidates:
                if convention == "attributes":
                    c.convention = "attributes"
        if not candidates:
            continue
        own = [c for c in candidates if _module_of(c) in named]
        if own and len(own) < len(candidates):
            candidates = own  # the file's own, not the helpers it imports (conv_forward from a util module)
        exact = [c for c in candidates if c.source == torch_class]
        if len(candidates) > 1 and len(exact) == 1:
            candidates = exact
        classes_only = [c for c in candidates if c.convention != "functions"]
        if len(candidates) > 1 and classes_only and len(classes_only) < len(candidates):
            candidates = classes_only  # a class that calls its own forward/backward functions is the layer
        if len(candidates) > 1:
            names = ", ".join(c.source for c in candidates)
            raise Ambiguous(f"{torch_class}: {len(candidates)} candidates ({names}); name one in an adapter file "
                            f"(--adapter) or keep one")
        found[torch_class] = candidates[0]
    return found


def _module_of(found: Found) -> str | None:
    first = found.obj[0] if isinstance(found.obj, tuple) else found.obj
    return getattr(first, "__module__", None)


def _candidates(torch_class: str, classes: dict[str, type], functions: dict[str, Any],
                spec: dict[str, Any]) -> list[Found]:
    if "class" in spec:
        cls = classes.get(spec["class"])
        if cls is None:
            raise LookupError(f"the adapter file names class {spec['class']} for {torch_class}; the file defines "
                              f"{', '.join(sorted(classes)) or 'no class'}{did_you_mean(spec['class'], list(classes))}")
        return [Found(torch_class, spec.get("convention") or class_convention(cls, torch_class), spec["class"], cls,
                      declared=spec)]
    if "forward" in spec:
        pair = tuple(functions.get(spec.get(k)) if spec.get(k) else None for k in ("forward", "backward"))
        if pair[0] is None:
            raise LookupError(f"the adapter file names function {spec['forward']} for {torch_class}; the file "
                              f"defines {', '.join(sorted(functions)) or 'no function'}")
        return [Found(torch_class, "functions", "/".join(spec[k] for k in ("forward", "backward") if spec.get(k)),
                      pair, declared=spec)]
    found = []
    for name, cls in classes.items():
        if name == torch_class or normalise(name) in CLASS_NAMES[torch_class]:
            if method(cls, FORWARD_METHODS) is not None:
                found.append(Found(torch_class, class_convention(cls, torch_class), name, cls, declared=spec))
    found += _function_pairs(torch_class, functions, spec)
    return found


def class_convention(cls: type, torch_class: str) -> str:
    weight, _ = array_parameters(cls)
    if weight is not None and torch_class in ("Conv2d", "Linear"):
        return "arrays"
    names = {p.name for p in parameters(cls)}
    torch_names = {"Conv2d": {"in_channels", "out_channels", "kernel_size"}, "Linear": {"in_features", "out_features"},
                   "MaxPool2d": {"kernel_size"}}.get(torch_class, set())
    takes_torch = torch_names <= names
    keeps_dicts = {"params", "grads"} <= _assigned_names(cls)
    return "torchlike" if takes_torch and keeps_dicts else "attributes"


def follows_protocol(obj: Any, torch_class: str) -> bool:
    """An object with our protocol's ``params`` and ``grads`` dicts (``weight`` among the params of a layer that
    has weights)."""
    params, grads = getattr(obj, "params", None), getattr(obj, "grads", None)
    if not isinstance(params, dict) or not isinstance(grads, dict) or not callable(getattr(obj, "forward", None)):
        return False
    return "weight" in params if torch_class in ("Conv2d", "Linear") else True


def _assigned_names(cls: type) -> frozenset[str]:
    """The attribute names the class's source assigns to ``self.`` (``self.params = {}``), as far as it can be read.
    Once per class: ``inspect.getsource`` parses the class's whole file each time (a worker's start asked it for
    every class of the file and every torch class, 0.05 s). Kept by identity: a user's metaclass may refuse
    hashing."""
    kept = _ASSIGNED.get(id(cls))
    if kept is not None and kept[0] is cls:
        return kept[1]
    _ASSIGNED[id(cls)] = (cls, _read_assigned_names(cls))
    return _ASSIGNED[id(cls)][1]


_ASSIGNED: dict[int, tuple[type, frozenset[str]]] = {}


def _read_assigned_names(cls: type) -> frozenset[str]:
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return frozenset()
    return frozenset(re.findall(r"self\.(\w+)\s*(?=[,=:\[]|\+=)", source))


def _function_pairs(torch_class: str, functions: dict[str, Any], spec: dict[str, Any]) -> list[Found]:
    """``<stem>_forward[_suffix]`` with its ``<stem>_backward[_suffix]``; a loss may be one function returning
    (loss, dx) (``nll_loss``)."""
    found = []
    for stem in FUNCTION_STEMS[torch_class]:
        pattern = re.compile(rf"^{stem}_forward(_\w+)?$", re.IGNORECASE)
        for name, function in functions.items():
            match = pattern.match(name)
            if not match:
                continue
            backward = functions.get(f"{stem}_backward{match.group(1) or ''}")
            if backward is not None:
                found.append(Found(torch_class, "functions", f"{name}/{backward.__name__}", (function, backward),
                                   declared=spec))
        if torch_class in LOSSES and stem in functions and not any(f.convention == "functions" for f in found):
            found.append(Found(torch_class, "functions", stem, (functions[stem], None), declared=spec))
    unique = {f.source: f for f in found}
    return list(unique.values())


def not_found_message(target: str, classes: dict[str, type], functions: dict[str, Any]) -> str:
    """Why nothing was found: every class and function the file defines, never cut, with near names."""
    hints = "".join(did_you_mean(name, list(TORCH_LAYERS)) for name in sorted(classes))
    return (f"{target} defines nothing named like one of LeNet's layers ({', '.join(TORCH_LAYERS)}, or function "
            f"pairs like conv_forward/conv_backward); its classes: {', '.join(sorted(classes)) or 'none'}; its "
            f"functions: {', '.join(sorted(functions)) or 'none'}{hints}")
