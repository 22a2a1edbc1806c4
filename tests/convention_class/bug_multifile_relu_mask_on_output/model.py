"""BUGGY copy of heidi_multifile (multi-file style). BUG (layer: relu, tensor: grad_input), in
layers/activations.py: ReLU.backward builds its mask from the layer OUTPUT with >= 0,
(self.out >= 0), which is True everywhere, so the gradient also flows where the input
was negative. Forward output is correct. Every other file is identical to heidi_multifile.

model.py -- LeNet-5 assembled from the layers package (heidi_multifile).

Multi-file submission by Heidi: run from inside this folder (``python model.py``)
so that ``import layers`` and ``import util`` resolve.
"""
import numpy as np

from layers import ConvLayer, PoolLayer, ReLU, LogSoftmax, FCLayer, Flatten, NLLLoss


class LeNet:
    def __init__(self):
        self.layers = [
            ConvLayer(1, 6, 5, padding=2), PoolLayer(2, 2), ReLU(),
            ConvLayer(6, 16, 5), PoolLayer(2, 2), ReLU(),
            Flatten(),
            FCLayer(400, 120), ReLU(),
            FCLayer(120, 84), ReLU(),
            FCLayer(84, 10), LogSoftmax(),
        ]
        self.loss_fn = NLLLoss()

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self):
        grad = self.loss_fn.backward()
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def step(self, lr):
        for layer in self.layers:
            if hasattr(layer, "weights"):
                layer.weights -= lr * layer.grad_weights
                layer.biases -= lr * layer.grad_biases


if __name__ == "__main__":
    net = LeNet()
    x = np.random.randn(4, 1, 28, 28)
    y = np.array([0, 1, 2, 3])
    loss = net.loss_fn.forward(net.forward(x), y)
    net.backward()
    print("loss", loss)
