"""lenet-parity: check from-scratch layers against PyTorch, forward and backward, layer by layer.

This folder holds what every other folder shares: the vocabulary (vocabulary.py), errors and exit codes,
atomic writes and the golden-file encoding. It imports nothing of the project's other folders.
"""

__version__ = "0.1.0"
