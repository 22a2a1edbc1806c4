"""lenet-parity: check from-scratch layers against PyTorch, forward and backward, layer by layer."""

__version__ = "0.1.0"
