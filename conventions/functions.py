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
from lenet_parity.conventions.names import normalise
from lenet_parity.conventions.slots import LAYOUTS, WEIGHT_LAYOUTS


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

    def _extra(self) -> list[Any]:
        """The arguments after x: (w, b, conv_param), (w, b), (pool_param,) or none."""
        names = [normalise(p.name) for p in _parameters(self.fn_forward)][1:]
        extra: list[Any] = []
        for name in names:
            if name.endswith("param") or name in ("params", "config", "cfg", "options"):
                extra.append(_param_dict(self.torch_class, self.kwargs))
        return extra

    def _weights(self, layout: str) -> list[np.ndarray]:
        if not self.shapes:
            return []
        weight = LAYOUTS[layout][0](self.params["weight"])
        bias = self.params.get("bias")
        return [weight, bias if bias is not None else np.zeros(self.shapes["weight"][0])]

    def forward(self, *args: Any) -> Any:
        if self.torch_class in ("NLLLoss", "CrossEntropyLoss"):
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
        result = self.fn_forward(x, *self._weights(self.layout), *self._extra())
        out, self.cache = (result if isinstance(result, tuple) and len(result) == 2 else (result, x))
        return out

    def _find_layout(self, x: Any) -> str:
        """The weight layout the forward function multiplies with: the one that runs and, for a square weight,
        gives x @ W.T where W is torch's."""
        if not self.shapes:
            return "torch"
        layouts = WEIGHT_LAYOUTS[len(self.shapes["weight"])]
        shape = self.shapes["weight"]
        probe = np.random.default_rng(1).standard_normal(shape)
        working = []
        for layout in layouts:
            weight = LAYOUTS[layout][0](probe)
            try:
                result = self.fn_forward(np.asarray(x), weight, np.zeros(shape[0]), *self._extra())
            except Exception:  # noqa: BLE001 - the wrong layout does not multiply
                continue
            working.append((layout, result[0] if isinstance(result, tuple) else result))
        if len(working) > 1 and len(shape) == 2:  # square: which one computes x @ W.T
            x2 = np.asarray(x).reshape(len(np.asarray(x)), -1)
            for layout, out in working:
                if np.allclose(np.asarray(out).reshape(x2.shape[0], -1), x2 @ probe.T):
                    return layout
        return working[0][0] if working else "torch"

    def backward(self, *args: Any) -> Any:
        if self.torch_class in ("NLLLoss", "CrossEntropyLoss"):
            if self.loss_grad is not None:
                return self.loss_grad
            result = self.fn_backward(self.cache) if len(_parameters(self.fn_backward)) == 1 else \
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



def _parameters(function: Any) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return []
