"""BUGGY copy of heidi_multifile (multi-file style). BUG (layer: relu, tensor: grad_input), in
layers/activations.py: ReLU.backward builds its mask from the layer OUTPUT with >= 0,
(self.out >= 0), which is True everywhere, so the gradient also flows where the input
was negative. Forward output is correct. Every other file is identical to heidi_multifile.

layers/loss.py -- NLLLoss for heidi_multifile.

NLLLoss.forward(log_probs, labels) -> mean negative log-likelihood;
NLLLoss.backward() -> d log_probs.
"""
import numpy as np


class NLLLoss:
    def forward(self, log_probs, labels):
        self.log_probs = log_probs
        self.labels = labels
        m = labels.shape[0]
        return -np.sum(log_probs[np.arange(m), labels]) / m

    def backward(self):
        m = self.labels.shape[0]
        grad = np.zeros_like(self.log_probs)
        grad[np.arange(m), self.labels] = -1.0 / m
        return grad
