"""Conventions: the ways real code writes a layer, each turned into our layer protocol by one small adapter.

A student's file, a textbook's code or a CS231n solution names its classes and arguments its own way, keeps its
weights in ``W`` and its gradients in ``dW``, returns ``(dx, dW, db)``, updates its own weights in backward, or is
a pair of functions with a cache. ``detect.find`` looks at what a module is and says, for each torch layer, what it
found and through which convention; the adapters (``torchlike``: our protocol, used as it is; ``attributes``;
``functions``; ``arrays``: weights given to the constructor) make it look like our protocol, so the checks never
learn about conventions. A teacher's adapter file (``adapter_file``) is data for the same adapters.

This package runs where the user's code runs (the isolated worker): it only translates, it judges nothing.
May import lenet_parity (the core) only.
"""

CONVENTIONS = ("torchlike", "attributes", "functions", "arrays")
