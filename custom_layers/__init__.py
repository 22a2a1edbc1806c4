"""From-scratch layers in two backends, pure Python (``python``) and NumPy (``numpy``), one protocol.

See protocol.py for the contract every layer follows, users' own too; backends.py finds a backend's class by
its torch name. May import lenet_parity (the vocabulary) only: never reference, harness or the others.
"""
