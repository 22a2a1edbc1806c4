"""BUGGY copy of heidi_multifile (multi-file style). BUG (layer: relu, tensor: grad_input), in
layers/activations.py: ReLU.backward builds its mask from the layer OUTPUT with >= 0,
(self.out >= 0), which is True everywhere, so the gradient also flows where the input
was negative. Forward output is correct. Every other file is identical to heidi_multifile.

layers package of heidi_multifile (multi-file submission by Heidi).

Style: a student project split into modules. Layer classes live in submodules
and are re-exported here:
    layers.conv.ConvLayer(in_channels, n_filters, kernel_size, stride=1, padding=0)
    layers.pool.PoolLayer(size=2, stride=2)
    layers.activations.ReLU, layers.activations.LogSoftmax
    layers.dense.FCLayer(n_in, n_out), layers.dense.Flatten
    layers.loss.NLLLoss
Parameters: ``self.weights`` / ``self.biases``; gradients ``self.grad_weights`` /
``self.grad_biases``. ConvLayer.weights (F, C, k, k); FCLayer.weights (n_in, n_out).
"""
from .conv import ConvLayer
from .pool import PoolLayer
from .activations import ReLU, LogSoftmax
from .dense import FCLayer, Flatten
from .loss import NLLLoss

__all__ = ["ConvLayer", "PoolLayer", "ReLU", "LogSoftmax", "FCLayer", "Flatten", "NLLLoss"]
