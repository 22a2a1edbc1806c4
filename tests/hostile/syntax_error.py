"""Hostile: this file does not parse (SyntaxError); importing it must be bad input (exit 2), one line naming the file."""

import numpy as np


class Layer:
    array_kind = "numpy"

    def forward(self, x)
        return np.maximum(x, 0)
