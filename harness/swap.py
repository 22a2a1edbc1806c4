"""The hybrid swapper: a named torch submodule replaced by a custom layer behind a torch.autograd.Function.

The bridge follows torch's NumPy-extension pattern (notes/extending): detach, convert to the layer's array
kind in the tensor's dtype, run the layer's forward/backward, ``torch.as_tensor`` back; one gradient per input.
"""

from __future__ import annotations

import copy
from collections.abc import MutableMapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from lenet_parity.custom_layers.protocol import array_kind
from lenet_parity.harness.guard import describe_exception, not_numbers

SKIPPED_BUFFERS = ("num_batches_tracked",)  # torch's counter; only used when momentum is None


class SwapError(RuntimeError):
    """A custom layer failed inside the bridge; names the layer and the stage (swap, forward, backward)."""

    def __init__(self, layer_name: str, stage: str, message: str):
        super().__init__(f"{layer_name} ({stage}): {message}")
        self.layer_name, self.stage, self.message = layer_name, stage, message
        self.step: int | None = None  # the train mode's step, when it broke during training


def to_layer(t: torch.Tensor, kind: str) -> Any:
    """A private copy of a tensor in the layer's array kind, in the tensor's dtype."""
    arr = t.detach().cpu().numpy()
    return arr.tolist() if kind == "list" else arr.copy()


def from_layer(value: Any, dtype: torch.dtype, shape: tuple | None, where: str) -> torch.Tensor:
    """A layer's array (ndarray or nested lists) as a tensor of ``dtype``; ValueError on a wrong shape."""
    if (wrong := not_numbers(value)) is not None:
        raise ValueError(f"{where} is {wrong}")
    np_dtype = torch.empty((), dtype=dtype).numpy().dtype
    arr = np.asarray(value, dtype=np_dtype)  # raises on ragged lists and non-numbers
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{where} has shape {arr.shape}, expected {tuple(shape)}")
    if not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr).copy()  # as_tensor warns on read-only arrays
    return torch.as_tensor(arr)


def _nonfinite(t: torch.Tensor) -> str | None:
    """None when every value is finite, else how many are not and where the first is."""
    if torch.isfinite(t).all():
        return None
    bad = ~torch.isfinite(t)
    index = tuple(int(i) for i in bad.nonzero()[0])
    return f"{int(bad.sum())} NaN/Inf values (first at {index}: {t[index].item()!r})"


def _snapshot(layer: Any) -> Any:
    """A shallow copy keeping this forward's cache, so a later forward cannot change what backward sees.

    gradcheck runs many forwards before the backward of the first one; both backends (and most users'
    layers) replace their cache on each forward, so copying the object and its dicts one level suffices.
    """
    try:
        state = copy.copy(layer)
        for key, value in vars(layer).items():
            if isinstance(value, dict):
                setattr(state, key, dict(value))
        return state
    except Exception:  # an object that refuses copying: fall back to the layer itself
        return layer


class _BridgeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, bridge: "Bridge", x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        y, state = bridge._forward(x, params)
        ctx.bridge, ctx.state, ctx.x_shape = bridge, state, tuple(x.shape)
        ctx.param_shapes = [tuple(p.shape) for p in params]
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: torch.Tensor):
        dx, dparams = ctx.bridge._backward(ctx.state, dy, ctx.x_shape, ctx.param_shapes)
        return (None, dx, *dparams)


class Bridge(nn.Module):
    """Stands in for a torch submodule: owns its Parameters and buffers (same names), computes with ``layer``.

    Parameters are written into ``layer.params`` before every forward (an optimiser step is seen), param
    gradients come back from ``layer.grads``; buffers (batchnorm running stats) go in before the forward and
    come back after it. ``next_mask`` (like reference.model.Dropout) hands the layer a dropout mask once.
    """

    def __init__(self, name: str, layer: Any, module: nn.Module, *, check_finite: bool = True):
        super().__init__()
        self.name, self.layer, self.kind = name, layer, array_kind(layer)
        self.torch_cls = type(module).__name__
        self.check_finite = check_finite
        self.param_names = [n for n, _ in module.named_parameters(recurse=False)]
        self.buffer_names = [n for n, _ in module.named_buffers(recurse=False) if n not in SKIPPED_BUFFERS]
        for n, p in module.named_parameters(recurse=False):
            self.register_parameter(n, p)  # the same Parameter objects: optimisers built before the swap still work
        for n, b in module.named_buffers(recurse=False):
            self.register_buffer(n, b)
        if (self.param_names or self.buffer_names) and not isinstance(getattr(layer, "params", None), MutableMapping):
            raise SwapError(name, "swap", f"{type(layer).__name__} has no params dict, but torch's {self.torch_cls} "
                                          f"has {self.param_names + self.buffer_names}")
        self.p = getattr(module, "p", None)  # dropout probability, for callers drawing masks
        self.next_mask: torch.Tensor | None = None
        self.last_mask: torch.Tensor | None = None
        # torch's module in evaluation mode gives the output shape to expect (meta tensors would be free,
        # but their first use imports torch._dynamo: 4-5 s per process, measured)
        self._twin = (copy.deepcopy(module).eval(),)
        self._shapes: dict[tuple, tuple | None] = {}  # (input shape, dtype) -> the output's shape
        self.training = module.training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.call(x, *(getattr(self, n) for n in self.param_names))

    def call(self, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        """The bridge with explicit params (what gradcheck perturbs); forward() passes the module's own."""
        return _BridgeFunction.apply(self, x, *params)

    def _expected_shape(self, x: torch.Tensor) -> tuple | None:
        """The output's shape, by the input's shape and dtype alone (every module swapped is so): torch's module
        runs once per input shape, not at every step."""
        key = (tuple(x.shape), x.dtype)
        if key not in self._shapes:
            try:
                with torch.no_grad():
                    self._shapes[key] = tuple(self._twin[0].to(x.dtype)(x.detach()).shape)
            except Exception:  # torch itself refuses this input: leave the verdict to the comparison
                self._shapes[key] = None
        return self._shapes[key]

    def _forward(self, x: torch.Tensor, params: tuple) -> tuple[torch.Tensor, Any]:
        layer, dtype = self.layer, x.dtype
        mask, self.next_mask = self.next_mask, None
        try:
            if hasattr(layer, "training"):
                layer.training = self.training
            for n, p in zip(self.param_names, params):
                layer.params[n] = to_layer(p, self.kind)
            for n in self.buffer_names:
                layer.params[n] = to_layer(getattr(self, n), self.kind)
            if self.p is not None and (mask is not None or hasattr(layer, "mask")):  # None: a dropout draws its own
                layer.mask = None if mask is None or not self.training else to_layer(mask.to(dtype), self.kind)
                self.last_mask = mask if self.training else None
            y = layer.forward(to_layer(x, self.kind))
            y = from_layer(y, dtype, self._expected_shape(x), f"{type(layer).__name__}.forward's output")
            for n in self.buffer_names:  # the running stats the layer updated go back to torch's buffers
                value = from_layer(layer.params.get(n), dtype, tuple(getattr(self, n).shape), f"params[{n!r}]")
                with torch.no_grad():
                    getattr(self, n).copy_(value)
        except Exception as exc:
            raise SwapError(self.name, "forward", f"{type(layer).__name__}.forward: {describe_exception(exc)}") from exc
        if self.training and hasattr(self, "num_batches_tracked"):
            self.num_batches_tracked.add_(1)  # as torch's batchnorm does, so state_dicts stay comparable
        if self.check_finite and (bad := _nonfinite(y)) and torch.isfinite(x).all():
            raise SwapError(self.name, "forward", f"{type(layer).__name__}.forward returned {bad} from a finite input")
        return y, _snapshot(layer)

    def _backward(self, state: Any, dy: torch.Tensor, x_shape: tuple, param_shapes: list) -> tuple:
        dtype = dy.dtype
        try:
            dx = from_layer(state.backward(to_layer(dy, self.kind)), dtype, x_shape,
                            f"{type(state).__name__}.backward's dx")
            grads = getattr(state, "grads", None) if self.param_names else {}
            if not isinstance(grads, dict):
                raise ValueError(f"{type(state).__name__}.grads is not a dict after backward")
            missing = [n for n in self.param_names if n not in grads]
            if missing:
                raise ValueError(f"{type(state).__name__}.grads lacks {missing} after backward")
            dparams = [from_layer(grads[n], dtype, s, f"grads[{n!r}]") for n, s in zip(self.param_names, param_shapes)]
            if state is not self.layer:  # an isolated layer's process may die here too: inside the try
                self.layer.grads = grads  # so a caller reading layer.grads sees this backward's gradients
        except Exception as exc:
            raise SwapError(self.name, "backward", f"{type(state).__name__}.backward: {describe_exception(exc)}") from exc
        if self.check_finite:  # dy is checked only when an output is bad: the common case costs half as much
            for what, t in [("dx", dx)] + [(f"grad_{n}", g) for n, g in zip(self.param_names, dparams)]:
                if (bad := _nonfinite(t)) and torch.isfinite(dy).all():
                    raise SwapError(self.name, "backward", f"{type(state).__name__}.backward: {what} has {bad} from a finite dy")
        return dx, dparams

    def extra_repr(self) -> str:
        return f"{self.name}: {type(self.layer).__name__} ({self.kind}) in place of torch's {self.torch_cls}"


class _LossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, bridge: "LossBridge", logp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss, state = bridge._forward(logp, target)
        ctx.bridge, ctx.state, ctx.shape = bridge, state, tuple(logp.shape)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, dloss: torch.Tensor):
        return None, ctx.bridge._backward(ctx.state, ctx.shape, dloss), None


class LossBridge(nn.Module):
    """A custom loss (``forward(logp, target) -> float``, ``backward() -> dlogp``) as a torch loss module."""

    def __init__(self, layer: Any, name: str = "loss", *, check_finite: bool = True):
        super().__init__()
        self.name, self.layer, self.kind, self.check_finite = name, layer, array_kind(layer), check_finite

    def forward(self, logp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _LossFunction.apply(self, logp, target)

    def _forward(self, logp: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, Any]:
        t = target.detach().cpu().to(torch.int64).numpy()
        try:
            value = self.layer.forward(to_layer(logp, self.kind), t.tolist() if self.kind == "list" else t)
            loss = from_layer(value, logp.dtype, (), f"{type(self.layer).__name__}.forward's loss")
        except Exception as exc:
            raise SwapError(self.name, "forward", f"{type(self.layer).__name__}.forward: {describe_exception(exc)}") from exc
        if self.check_finite and (bad := _nonfinite(loss)) and torch.isfinite(logp).all():
            raise SwapError(self.name, "forward", f"{type(self.layer).__name__}.forward returned {bad} from finite log-probabilities")
        return loss, _snapshot(self.layer)

    def _backward(self, state: Any, shape: tuple, dloss: torch.Tensor) -> torch.Tensor:
        try:
            dlogp = from_layer(state.backward(), dloss.dtype, shape, f"{type(state).__name__}.backward's dlogp")
        except Exception as exc:
            raise SwapError(self.name, "backward", f"{type(state).__name__}.backward: {describe_exception(exc)}") from exc
        if self.check_finite and (bad := _nonfinite(dlogp)):
            raise SwapError(self.name, "backward", f"{type(state).__name__}.backward: dlogp has {bad}")
        return dlogp * dloss  # the chain rule through a scalar loss


def swap(model: nn.Module, name: str, layer: Any, *, check_finite: bool = True) -> nn.Module:
    """Replace the submodule ``name`` (dotted for nested ones) by a Bridge to ``layer``, in place; returns model."""
    try:
        module = model.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in model.named_children()]
        raise ValueError(f"{type(model).__name__} has no submodule {name!r}; it has {names}") from None
    if isinstance(module, Bridge):
        raise ValueError(f"{name} is already swapped (to {type(module.layer).__name__})")
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, Bridge(name, layer, module, check_finite=check_finite))
    return model


def swap_many(model: nn.Module, layers: dict[str, Any], *, check_finite: bool = True) -> nn.Module:
    """Swap every named submodule in ``layers``; all of them runs the whole network through custom code."""
    for name, layer in layers.items():
        swap(model, name, layer, check_finite=check_finite)
    return model
