"""The NumPy backend: vectorised layers that mirror torch.nn, each exported under its torch name.

Dtype-preserving (float32 in, float32 out; float64 in, float64 out); see custom_layers/protocol.py. May import
NumPy, lenet_parity and the pure-Python backend (the shared init formulas and optimiser rules).
"""

from lenet_parity.custom_layers.numpy.activations import ReLU, Sigmoid, Tanh
from lenet_parity.custom_layers.numpy.batchnorm import BatchNorm1d, BatchNorm2d
from lenet_parity.custom_layers.numpy.conv import Conv2d
from lenet_parity.custom_layers.numpy.dropout import Dropout
from lenet_parity.custom_layers.numpy.linear import Linear
from lenet_parity.custom_layers.numpy.losses import CrossEntropyLoss, NLLLoss
from lenet_parity.custom_layers.numpy.pool import AvgPool2d, MaxPool2d
from lenet_parity.custom_layers.numpy.residual import Residual
from lenet_parity.custom_layers.numpy.shape import Flatten
from lenet_parity.custom_layers.numpy.softmax import LogSoftmax, Softmax

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CrossEntropyLoss", "Dropout", "Flatten", "Linear",
           "LogSoftmax", "MaxPool2d", "NLLLoss", "ReLU", "Residual", "Sigmoid", "Softmax", "Tanh"]
