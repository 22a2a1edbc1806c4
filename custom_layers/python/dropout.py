"""Dropout in pure Python, mirroring torch.nn.Dropout (inverted dropout): in training y = x * mask and
dx = dy * mask, each mask value 1/(1-p) with probability 1 - p, else 0; in evaluation y = x.
"""

from __future__ import annotations

import random

from lenet_parity.custom_layers.python._lists import check_same_shape, map_rows, shape_of


class Dropout:
    """Training: each value is kept with probability 1 - p and scaled by 1/(1-p), so E[y] = x.

    Set ``layer.mask`` (x's shape) to share torch's mask in a check; while it is None each training forward
    draws a new one, from random.Random(seed) or, without a seed, from Python's global generator (seeded
    by seed_everything). Evaluation (training = False) is the identity.
    """

    array_kind = "list"

    def __init__(self, p=0.5, *, seed=None):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = random if seed is None else random.Random(seed)
        self.mask = None  # injected mask; None draws a fresh one per training forward
        self.training = True
        self.params: dict = {}
        self.grads: dict = {}
        self._cache = None

    def _draw_row(self, row: list) -> list:
        if self.p == 1.0:  # torch returns zeros rather than dividing by 1 - p = 0
            return [0.0] * len(row)
        scale, p, draw = 1.0 / (1.0 - self.p), self.p, self.rng.random
        return [scale if draw() >= p else 0.0 for _ in row]  # kept with probability 1 - p

    def forward(self, x: list) -> list:
        if not isinstance(x, list):
            raise ValueError(f"Dropout: expected x as a nested list, got {type(x).__name__}")
        shape = shape_of(x)
        if not self.training:
            self._cache = (None, shape)
            return map_rows(list, x)  # a copy, so that a caller editing y cannot edit x
        if self.mask is None:
            mask = map_rows(self._draw_row, x)
        else:
            mask = self.mask
            check_same_shape(mask, shape, "Dropout", name="the injected mask")
        self._cache = (mask, shape)
        return map_rows(_times, x, mask)

    def backward(self, dy: list) -> list:
        if self._cache is None:
            raise RuntimeError("Dropout.backward() called before forward()")
        mask, shape = self._cache
        check_same_shape(dy, shape, "Dropout.backward")
        return map_rows(list, dy) if mask is None else map_rows(_times, dy, mask)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p}, inplace=False)"


def _times(row: list, mask_row: list) -> list:
    return [v * m for v, m in zip(row, mask_row)]
