"""Dropout in NumPy, mirroring torch.nn.Dropout: inverted dropout, y = x * mask, mask in {0, 1/(1-p)}.

Set ``layer.mask`` (x's shape) to share torch's mask in a check; while it is None each training forward
draws a new one (from NumPy's global generator, which seed_everything seeds, unless ``seed`` is given).
Evaluation is the identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import as_float, require_cache, upstream


class Dropout:
    array_kind = "numpy"

    def __init__(self, p: float = 0.5, *, seed: int | None = None):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = np.random if seed is None else np.random.default_rng(seed)  # global: seed_everything's
        self.mask: Any = None  # injected mask; None draws a fresh one per forward
        self.training = True
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    def _draw(self, shape: tuple, dtype: np.dtype) -> np.ndarray:
        if self.p == 1.0:  # torch returns zeros rather than dividing by 1 - p = 0
            return np.zeros(shape, dtype)
        keep = self.rng.random(shape) >= self.p  # kept with probability 1 - p (torch's bernoulli)
        return keep.astype(dtype) / dtype.type(1 - self.p)  # divide like torch, not multiply by 1/(1-p)

    def forward(self, x: Any) -> np.ndarray:
        x = as_float(x, "Dropout.forward")
        if not self.training:
            self._cache = (None, x.shape, x.dtype)
            return x
        if self.mask is None:
            mask = self._draw(x.shape, x.dtype)
        else:
            mask = np.asarray(self.mask, dtype=x.dtype)
            if mask.shape != x.shape:
                raise ValueError(f"Dropout.forward: the injected mask has shape {mask.shape}, x has {x.shape}")
        self._cache = (mask, x.shape, x.dtype)
        return x * mask

    def backward(self, dy: Any) -> np.ndarray:
        mask, shape, dtype = require_cache(self)
        dy = upstream(dy, shape, dtype, "Dropout")
        return dy if mask is None else dy * mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p}, inplace=False)"
