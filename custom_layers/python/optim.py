"""SGD and Adam for nested-list layers, with torch.optim's exact update rules, one element at a time.

Mirrors torch.optim.SGD and torch.optim.Adam (their single-tensor code paths). ``Optimizer`` holds the
backend-neutral parts (which params, state_dict); the NumPy twin, numpy/optim.py, subclasses it.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from lenet_parity.custom_layers.protocol import TRAINABLE, array_kind


def collect_params(params: Any, kind: str) -> list[tuple[str, Any, str]]:
    """(name, layer, key) for each parameter an optimiser updates.

    ``params`` is a dict name -> layer (names ``conv1.weight``), an iterable of layers (names
    ``<position>.weight``; each layer's ``weight`` and ``bias``), or an iterable of (layer, key) pairs.
    """
    if hasattr(params, "params"):
        raise ValueError(f"pass a list of layers, not one {type(params).__name__}: e.g. [layer]")
    items = list(params.items()) if isinstance(params, Mapping) else list(enumerate(params))
    slots, seen = [], set()
    for pos, item in items:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            layer, keys = item[0], [item[1]]
        else:
            layer, keys = item, [k for k in TRAINABLE if k in getattr(item, "params", {})]
        if not isinstance(getattr(layer, "params", None), dict):
            raise ValueError(f"item {pos!r} ({type(layer).__name__}) has no params dict; it is not a protocol layer")
        if array_kind(layer) != kind:
            raise ValueError(f"layer {pos!r} ({type(layer).__name__}) holds {array_kind(layer)!r} arrays; "
                             f"this optimiser updates {kind!r} arrays")
        for key in keys:
            if key not in layer.params:
                raise ValueError(f"layer {pos!r} ({type(layer).__name__}) has no param {key!r}; it has {sorted(layer.params)}")
            if (id(layer), key) in seen:
                raise ValueError(f"param {key!r} of layer {pos!r} is given twice")
            seen.add((id(layer), key))
            slots.append((f"{pos}.{key}", layer, key))
    if not slots:
        raise ValueError("the optimiser got an empty parameter list (no layer has a weight or bias)")
    return slots


class Optimizer:
    """Steps every (layer, key): reads ``layer.grads[key]``, updates ``layer.params[key]`` in place."""

    array_kind = "list"
    HYPER: tuple[str, ...] = ()  # hyperparameter attributes, saved in state_dict like torch's param_groups

    def __init__(self, params: Any):
        self.slots = collect_params(params, self.array_kind)
        self.state: dict[str, dict[str, Any]] = {name: {} for name, _, _ in self.slots}

    def step(self) -> None:
        # check every param before touching any, so that a bad grad never leaves a half-taken step
        pairs = []
        for name, layer, key in self.slots:
            # read the entries at every step: a driver may have replaced layer.params[key]
            if key not in getattr(layer, "grads", {}):
                raise ValueError(f"{name}: layer has no grads[{key!r}]; call backward before step")
            p, g = layer.params[key], layer.grads[key]
            if self._shape(p) != self._shape(g):
                raise ValueError(f"{name}: grad shape {self._shape(g)} != param shape {self._shape(p)}")
            self._check(p, g)
            pairs.append((name, p, g))
        for name, p, g in pairs:
            self._update(p, g, self.state[name])

    def state_dict(self) -> dict[str, Any]:
        """A copy of the hyperparameters and per-param buffers, enough to resume training identically."""
        state = {name: {k: v if isinstance(v, (int, float)) else self._export(v, layer.params[key])
                        for k, v in self.state[name].items()} for name, layer, key in self.slots}
        return {"optimizer": type(self).__name__, "hyper": {h: getattr(self, h) for h in self.HYPER}, "state": state}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state_dict of the same optimiser type over the same param names and shapes."""
        if state_dict.get("optimizer") != type(self).__name__:
            raise ValueError(f"state_dict is for {state_dict.get('optimizer')!r}, not {type(self).__name__!r}")
        saved, names = state_dict["state"], [name for name, _, _ in self.slots]
        if sorted(saved) != sorted(names):
            raise ValueError(f"state_dict params {sorted(saved)} != optimiser params {sorted(names)}")
        state = {}
        for name, layer, key in self.slots:
            p = layer.params[key]
            state[name] = {}
            for k, v in saved[name].items():
                if isinstance(v, (int, float)):  # Adam's step count
                    state[name][k] = v
                    continue
                if self._shape(v) != self._shape(p):
                    raise ValueError(f"state_dict {name}.{k} has shape {self._shape(v)}, the param has {self._shape(p)}")
                state[name][k] = self._import(v, p)
        self.state = state
        for h in self.HYPER:
            setattr(self, h, state_dict["hyper"][h])

    # --- backend hooks: nested lists here (buffers kept flat for speed), arrays in numpy/optim.py ---
    @staticmethod
    def _shape(x: Any) -> tuple[int, ...]:
        if hasattr(x, "tolist"):
            x = x.tolist()
        shape = []
        while isinstance(x, list):
            shape.append(len(x))
            x = x[0] if x else None
        return tuple(shape)

    @staticmethod
    def _export(v: list[float], like: Any) -> list:
        """A flat buffer as a new nested list of the param's shape (a snapshot later steps cannot change)."""
        flat = list(v)
        for size in reversed(Optimizer._shape(like)[1:]):
            flat = [flat[i:i + size] for i in range(0, len(flat), size)]
        return flat

    @staticmethod
    def _import(v: Any, like: Any) -> list[float]:
        return [float(x) for x in _flatten(v.tolist() if hasattr(v, "tolist") else v)]

    @staticmethod
    def _check(p: Any, g: Any) -> None:
        if not isinstance(p, list):
            raise ValueError(f"a param must be a nested list to be updated in place, got {type(p).__name__}")

    def _update(self, p: Any, g: Any, state: dict[str, Any]) -> None:
        raise NotImplementedError


def _flatten(x: Any) -> list[float]:
    if not isinstance(x, list):
        return [x]
    return [v for item in x for v in _flatten(item)]


def _flat_pair(p: Any, g: Any) -> tuple[list[float], list[float]]:
    ps, gs = _flatten(p), _flatten(g)
    if len(ps) != len(gs):
        raise ValueError(f"param has {len(ps)} values but its grad has {len(gs)} (a ragged nested list?)")
    return ps, gs


def _write_(nested: list, flat: list[float]) -> None:
    """Overwrite the leaves of a nested list, in place and row-major, with the values of flat."""
    def fill(node: list, i: int) -> int:
        for j, item in enumerate(node):
            if isinstance(item, list):
                i = fill(item, i)
            else:
                node[j] = flat[i]
                i += 1
        return i
    fill(nested, 0)


def _check_lr_wd(lr: float, weight_decay: float) -> None:
    if not lr >= 0.0:
        raise ValueError(f"invalid learning rate: {lr}")
    if not weight_decay >= 0.0:
        raise ValueError(f"invalid weight_decay value: {weight_decay}")


class SGD(Optimizer):
    """torch.optim.SGD: grad += wd * p; buf = grad on the first step, then momentum * buf + (1 - dampening) * grad."""

    HYPER = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        _check_lr_wd(lr, weight_decay)
        if not momentum >= 0.0:
            raise ValueError(f"invalid momentum value: {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        # plain floats: a numpy float64 scalar would promote float32 arithmetic in the NumPy twin
        self.lr, self.momentum, self.dampening = float(lr), float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)
        super().__init__(params)

    def _update(self, p: Any, g: Any, state: dict[str, Any]) -> None:
        ps, gs = _flat_pair(p, g)
        lr, mom, damp, wd, nesterov = self.lr, self.momentum, self.dampening, self.weight_decay, self.nesterov
        buf = state.get("momentum_buffer")
        first = buf is None
        if mom != 0 and first:
            buf = [0.0] * len(ps)
        for i, (pi, gi) in enumerate(zip(ps, gs)):
            if wd != 0:
                gi = gi + wd * pi
            if mom != 0:
                # torch's first step copies the grad into the buffer: no dampening
                bi = gi if first else buf[i] * mom + (1 - damp) * gi
                buf[i] = bi
                gi = gi + mom * bi if nesterov else bi
            ps[i] = pi + (-lr) * gi
        if mom != 0:
            state["momentum_buffer"] = buf
        _write_(p, ps)


class Adam(Optimizer):
    """torch.optim.Adam (L2 weight decay added to the grad, bias-corrected moments, optional AMSGrad)."""

    HYPER = ("lr", "betas", "eps", "weight_decay", "amsgrad")

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        _check_lr_wd(lr, weight_decay)
        if not eps >= 0.0:
            raise ValueError(f"invalid epsilon value: {eps}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"invalid beta parameter at index {i}: {beta}")
        self.lr, self.betas, self.eps = float(lr), (float(betas[0]), float(betas[1])), float(eps)
        self.weight_decay, self.amsgrad = float(weight_decay), bool(amsgrad)
        super().__init__(params)

    def _update(self, p: Any, g: Any, state: dict[str, Any]) -> None:
        ps, gs = _flat_pair(p, g)
        if not state:
            state.update(step=0, exp_avg=[0.0] * len(ps), exp_avg_sq=[0.0] * len(ps))
            if self.amsgrad:
                state["max_exp_avg_sq"] = [0.0] * len(ps)
        lr, (beta1, beta2), eps, wd = self.lr, self.betas, self.eps, self.weight_decay
        state["step"] += 1
        step = float(state["step"])  # torch keeps the step in a float tensor
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        step_size = lr / bias_correction1
        m, v, vmax = state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq")
        w1, w2 = 1 - beta1, 1 - beta2
        for i, (pi, gi) in enumerate(zip(ps, gs)):
            if wd != 0:
                gi = gi + wd * pi
            m[i] = _lerp(m[i], gi, w1)
            v[i] = v[i] * beta2 + w2 * gi * gi
            if vmax is not None:
                vmax[i] = max(vmax[i], v[i])
                denom = math.sqrt(vmax[i]) / bias_correction2_sqrt + eps
            else:
                denom = math.sqrt(v[i]) / bias_correction2_sqrt + eps
            ps[i] = pi + (-step_size) * m[i] / denom
        _write_(p, ps)


def _lerp(start: float, end: float, weight: float) -> float:
    """torch.lerp's two formulas: the one from the nearer end is the more accurate."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)
