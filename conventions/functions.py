"""The functions convention (CS231n's): ``conv_forward_naive(x, w, b, conv_param) -> (out, cache)`` and
``conv_backward_naive(dout, cache) -> (dx, dw, db)``, ``max_pool_forward_naive(x, pool_param)``,
``affine_forward(x, w, b)`` (w of shape (D, M), the flatten inside), ``relu_forward(x)``, ``nll_loss(logp, y) ->
(loss, dlogp)``. ``FunctionsLayer`` holds the parameters in torch's layout and calls the pair; the weight layout
the functions expect is found on the first call (only one of (out, in) and (in, out) multiplies, and a square one
is told apart by its values), or declared.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from lenet_parity.conventions.attributes import torch_shapes
from lenet_parity.conventions.construct import parameters, resolved
from lenet_parity.conventions.names import ARGUMENT_NAMES, BIAS_NAMES, LOSSES, WEIGHT_NAMES, normalise
from lenet_parity.conventions.slots import LAYOUTS, WEIGHT_LAYOUTS, layout_by_values


def _param_dict(torch_class: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ``conv_param`` / ``pool_param`` dict of the CS231n functions."""
    def one(value: Any) -> Any:
        return value[0] if isinstance(value, (tuple, list)) else value

    if torch_class == "Conv2d":
        return {"stride": one(kwargs.get("stride", 1)), "pad": one(kwargs.get("padding", 0))}
    k = one(kwargs["kernel_size"])
    stride = kwargs.get("stride")
    return {"pool_height": k, "pool_width": k, "stride": one(stride if stride is not None else k)}


class FunctionsLayer:
    array_kind = "numpy"

    def __init__(self, forward: Callable, backward: Callable | None, torch_class: str, kwargs: dict[str, Any],
                 *, layout: str | None = None, fused: bool = False, tell: Callable[[str], None] | None = None):
        self.tell = tell
        self.fn_forward, self.fn_backward, self.torch_class = forward, backward, torch_class
        self.kwargs, self.fused = dict(kwargs), fused
        self.shapes = torch_shapes(torch_class, kwargs)
        rng = np.random.default_rng(0)
        self.params = {key: rng.standard_normal(shape) * 0.1 for key, shape in self.shapes.items()}
        self.grads: dict[str, np.ndarray] = {}
        self.layout = layout
        self.cache = None
        self.loss_grad = None
        if torch_class == "MaxPool2d" and kwargs.get("padding", 0):
            raise TypeError("pool_param has no padding")  # the configuration is declined: unsupported

    def _arguments(self, x: Any, weights: list[np.ndarray]) -> tuple[list[Any], dict[str, Any]]:
        """The forward function's arguments after the input, by their names: the weight and bias (in the layout
        being tried), a ``conv_param``/``pool_param`` dict, or the stride, padding and window size themselves
        (by keyword; one torch leaves at its default is left at the function's)."""
        values = {"stride": None, "padding": 0, "kernel_size": None, **resolved(self.torch_class, self.kwargs)}
        weight, bias = (weights + [None, None])[:2]
        positional: list[Any] = []
        named: dict[str, Any] = {}
        for p in parameters(self.fn_forward)[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            name = normalise(p.name)
            if name in WEIGHT_NAMES and weights:
                value = weight
            elif name in BIAS_NAMES and weights:
                value = bias
            elif name.endswith("param") or name in ("params", "config", "cfg", "options"):
                value = _param_dict(self.torch_class, self.kwargs)
            elif (key := _torch_keyword(name)) is not None:
                if values.get(key) is None:
                    continue
                value = values[key][0] if isinstance(values[key], (tuple, list)) else values[key]
            elif p.default is not inspect.Parameter.empty:
                continue
            elif weights and not named and len(positional) < 2:
                positional.append(weight if not positional else bias)  # (x, a, b): positional weight and bias
                continue
            else:
                raise TypeError(f"{getattr(self.fn_forward, '__name__', 'forward')}: no torch argument means its "
                                f"parameter {p.name} (declare it in an adapter file)")
            if p.kind == p.POSITIONAL_ONLY:
                positional.append(value)
            else:
                named[p.name] = value
        return positional, named

    def _weights(self, layout: str) -> list[np.ndarray]:
        if not self.shapes:
            return []
        weight = LAYOUTS[layout][0](self.params["weight"])
        bias = self.params.get("bias")
        return [weight, bias if bias is not None else np.zeros(self.shapes["weight"][0])]

    def forward(self, *args: Any) -> Any:
        if self.torch_class in LOSSES:
            result = self.fn_forward(*args)
            if isinstance(result, tuple):  # (loss, dlogp) or (loss, cache)
                self.loss_grad = result[1] if self.fused else None
                self.cache = result[1]
                return result[0]
            return result
        x = args[0]
        if self.layout is None:
            self.layout = self._find_layout(x)
            if self.tell is not None and self.layout != "torch":
                self.tell(f"weight passed as ({self.layout}), bias as (out,)")
        positional, named = self._arguments(x, self._weights(self.layout))
        result = self.fn_forward(x, *positional, **named)
        out, self.cache = (result if isinstance(result, tuple) and len(result) == 2 else (result, x))
        return out

    def _find_layout(self, x: Any) -> str:
        """The weight layout in which the forward function computes torch's output (found on a probe input);
        "torch" when only one layout fits the shapes."""
        if not self.shapes:
            return "torch"
        layouts = list(WEIGHT_LAYOUTS[len(self.shapes["weight"])])

        def run(layout: str, weight: np.ndarray, probe: np.ndarray) -> Any:
            positional, named = self._arguments(probe, [LAYOUTS[layout][0](weight), np.zeros(len(weight))])
            result = self.fn_forward(probe, *positional, **named)
            return result[0] if isinstance(result, tuple) else result

        return layout_by_values(self.torch_class, self.kwargs, layouts, run) or "torch"

    def backward(self, *args: Any) -> Any:
        if self.torch_class in LOSSES:
            if self.loss_grad is not None:
                return self.loss_grad
            result = self.fn_backward(self.cache) if len(parameters(self.fn_backward)) == 1 else \
                self.fn_backward(1.0, self.cache)
            return result[0] if isinstance(result, tuple) else result
        result = self.fn_backward(args[0], self.cache)
        dx, *grads = result if isinstance(result, tuple) else (result,)
        self.grads = {}
        for key, grad in zip(self.shapes, grads):
            grad = np.asarray(grad)
            if key == "weight" and self.layout != "torch":
                grad = LAYOUTS[self.layout][1](grad) if grad.ndim == len(self.shapes[key]) else grad
            self.grads[key] = grad.reshape(self.shapes[key]) if grad.size == int(np.prod(self.shapes[key])) else grad
        return dx



def _torch_keyword(name: str) -> str | None:
    """The torch keyword a normalised parameter name means (stride, padding, kernel_size), if any."""
    for key in ("stride", "padding", "kernel_size"):
        if name in ARGUMENT_NAMES[key] or (key == "kernel_size" and name in ARGUMENT_NAMES["kernel_size_w"]):
            return key
    return None


