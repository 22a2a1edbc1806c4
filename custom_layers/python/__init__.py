"""The pure-Python backend: layers that mirror torch.nn on nested lists of floats, each under its torch name.

Builtins, ``math``, ``operator``, ``itertools`` and ``random`` only (no NumPy), written to be read: the formula
in each docstring, the loop that computes it below; see custom_layers/protocol.py. Imports nothing else of ours.
"""

from lenet_parity.custom_layers.python.activations import ReLU, Sigmoid, Tanh
from lenet_parity.custom_layers.python.batchnorm import BatchNorm1d, BatchNorm2d
from lenet_parity.custom_layers.python.conv import Conv2d
from lenet_parity.custom_layers.python.dropout import Dropout
from lenet_parity.custom_layers.python.linear import Linear
from lenet_parity.custom_layers.python.losses import CrossEntropyLoss, NLLLoss
from lenet_parity.custom_layers.python.pool import AvgPool2d, MaxPool2d
from lenet_parity.custom_layers.python.residual import Residual
from lenet_parity.custom_layers.python.shape import Flatten
from lenet_parity.custom_layers.python.softmax import LogSoftmax, Softmax

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CrossEntropyLoss", "Dropout", "Flatten", "Linear",
           "LogSoftmax", "MaxPool2d", "NLLLoss", "ReLU", "Residual", "Sigmoid", "Softmax", "Tanh"]
