"""lenet-parity: check from-scratch layers against PyTorch, forward and backward, layer by layer.

This folder holds what every other folder shares: the vocabulary (vocabulary.py), errors and exit codes,
atomic writes, the golden-file encoding, the executors (executors.py: a local process pool or Ray) and the
versions every artifact records. It imports nothing of the project's other folders.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """The public API, imported on first use (the checks import torch): check_layer, check_network."""
    if name in ("check_layer", "check_network"):
        from lenet_parity.harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'lenet_parity' has no attribute {name!r}")
