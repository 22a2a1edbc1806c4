"""Finite-difference gradient checks for any layer that follows the layer protocol (gradcheck's idea).

The objective is L = sum(layer.forward(x) * dy) with a seeded random dy (never all ones, which hides
transposition bugs); central differences on a seeded sample of coordinates are compared with
``backward(dy)`` and ``grads``. Run it in float64.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from lenet_parity.custom_layers.protocol import TRAINABLE, array_kind
from lenet_parity.harness.compare import Comparison, compare, to_numpy
from lenet_parity.harness.tolerances import tolerance


def to_kind(arr: np.ndarray, kind: str) -> Any:
    """numpy array -> the layer's array kind (a copy)."""
    return np.asarray(arr).tolist() if kind == "list" else np.array(arr, copy=True)


def _objective(layer: Any, x: np.ndarray, dy: np.ndarray, kind: str) -> float:
    return float(np.sum(to_numpy(layer.forward(to_kind(x, kind))) * dy))


def _sample(size: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(size) if size <= n_samples else rng.choice(size, n_samples, replace=False)


def _central_difference(f, base: np.ndarray, flat_indices: Iterable[int], eps: float) -> np.ndarray:
    out = []
    for i in flat_indices:
        plus, minus = base.copy(), base.copy()
        plus.flat[i] += eps
        minus.flat[i] -= eps
        out.append((f(plus) - f(minus)) / (2 * eps))
    return np.array(out)


def check_layer_gradients(layer: Any, x: Any, *, dy: Any = None, seed: int = 0, n_samples: int = 30,
                          eps: float = 1e-6, name: str = "layer") -> list[Comparison]:
    """Compare grad_input and each trainable param's gradient with central differences.

    ``x`` and ``dy`` are numpy arrays (float64); the layer gets them in its own array kind. Params are
    perturbed through ``layer.params``. Layers with randomness (dropout) need their mask fixed first.
    Returns one Comparison per tensor (``<name>.grad_input``, ``<name>.grad_weight``, ...).
    """
    kind = array_kind(layer)
    rng = np.random.default_rng(seed)
    x = np.asarray(to_numpy(x), dtype=np.float64)
    y = to_numpy(layer.forward(to_kind(x, kind)))
    dy = rng.standard_normal(y.shape) if dy is None else np.asarray(to_numpy(dy), dtype=np.float64)
    dx = to_numpy(layer.backward(to_kind(dy, kind)))
    grads = {k: np.array(to_numpy(v)) for k, v in getattr(layer, "grads", {}).items()}
    tol = tolerance("float64", "fd")
    results = []

    idx = _sample(x.size, n_samples, rng)
    numeric = _central_difference(lambda xp: _objective(layer, xp, dy, kind), x, idx, eps)
    analytic = np.asarray(dx).reshape(-1)[idx] if np.asarray(dx).shape == x.shape else np.asarray(dx)
    results.append(compare(analytic, numeric, atol=tol.atol, rtol=tol.rtol, name=f"{name}.grad_input"))

    for key in TRAINABLE:
        if key not in getattr(layer, "params", {}):
            continue
        original = layer.params[key]
        base = np.array(to_numpy(original), dtype=np.float64)

        def f(p, key=key):
            layer.params[key] = to_kind(p, kind)
            return _objective(layer, x, dy, kind)

        pidx = _sample(base.size, n_samples, rng)
        numeric = _central_difference(f, base, pidx, eps)
        layer.params[key] = original
        if key not in grads:
            results.append(compare(np.full(len(pidx), np.nan), numeric, atol=tol.atol, rtol=tol.rtol,
                                   name=f"{name}.grad_{key} (missing from grads)"))
            continue
        analytic = grads[key].reshape(-1)[pidx] if grads[key].shape == base.shape else grads[key]
        results.append(compare(analytic, numeric, atol=tol.atol, rtol=tol.rtol, name=f"{name}.grad_{key}"))
    return results


def check_loss_gradient(loss: Any, logp: Any, target: Any, *, seed: int = 0, n_samples: int = 30,
                        eps: float = 1e-6, name: str = "loss") -> Comparison:
    """Compare a loss's ``backward()`` with central differences of ``forward(logp, target)``."""
    kind = array_kind(loss)
    rng = np.random.default_rng(seed)
    logp = np.asarray(to_numpy(logp), dtype=np.float64)
    loss.forward(to_kind(logp, kind), target)
    dlogp = np.asarray(to_numpy(loss.backward()))
    idx = _sample(logp.size, n_samples, rng)
    numeric = _central_difference(lambda z: float(loss.forward(to_kind(z, kind), target)), logp, idx, eps)
    tol = tolerance("float64", "fd")
    analytic = dlogp.reshape(-1)[idx] if dlogp.shape == logp.shape else dlogp
    return compare(analytic, numeric, atol=tol.atol, rtol=tol.rtol, name=f"{name}.grad_input")
