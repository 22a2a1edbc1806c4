"""From-scratch layers in two backends, pure Python (``python``) and NumPy (``numpy``), one protocol.

See :mod:`lenet_parity.custom_layers.protocol` for the contract every layer follows, users' own too.
"""
